"""Access: staff users bound to a node, API tokens, and the subtree rule for what they see."""

from sahaya.access import services
from sahaya.access.domain import Principal, Role, in_subtree
from sahaya.access.tables import ApiTokenRow, UserRow

__all__ = ["ApiTokenRow", "Principal", "Role", "UserRow", "in_subtree", "services"]
