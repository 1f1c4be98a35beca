"""Voice: the call gate on the registered-customer table, dial plans along the franchise tree,
call and leg records, the busy-caller rule, and callback requests."""

from sahaya.voice import callbacks, domain
from sahaya.voice.tables import CallbackRequestRow, CallLegRow, CallRow, VoiceAccountRow

__all__ = [
    "CallLegRow",
    "CallRow",
    "CallbackRequestRow",
    "VoiceAccountRow",
    "callbacks",
    "domain",
]
