"""The identity domain: residents' real-name identity, sign-in and single sign-on.

For now only the validation of resident ID numbers (GB 11643); other packages call what is
re-exported here.
"""

from identity.errors import IdentityError, IdNumberRule, InvalidIdNumber
from identity.id_number import IdNumber, check_character, parse_id_number

__all__ = [
    "IdNumber",
    "IdNumberRule",
    "IdentityError",
    "InvalidIdNumber",
    "check_character",
    "parse_id_number",
]
