"""Every table the migrations manage. Import each domain's models here, once."""

from sqlmodel import SQLModel

import ledger.models  # noqa: F401  (registers the ledger tables on the metadata)

metadata = SQLModel.metadata
