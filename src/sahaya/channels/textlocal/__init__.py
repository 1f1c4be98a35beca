"""Textlocal (India) SMS: sends, delivery receipts and inbox messages, and a local fake of
api.textlocal.in."""
