"""Every table the migrations manage. Import each domain's models here, once."""

from sqlmodel import SQLModel

import channels.kiosk.models  # noqa: F401  (each import registers that domain's tables)
import citizen_card.models  # noqa: F401
import core.idempotency  # noqa: F401
import identity.models  # noqa: F401
import ledger.models  # noqa: F401
import notifications.models  # noqa: F401
import points.models  # noqa: F401
import tickets.models  # noqa: F401

metadata = SQLModel.metadata
