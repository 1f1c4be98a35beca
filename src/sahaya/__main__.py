from sahaya.cli import main

main()
