"""Imports every domain's models so ``Base.metadata`` knows all tables (Alembic and tests use it)."""

from carloop.accounts import models as accounts_models  # noqa: F401
from carloop.analytics import models as analytics_models  # noqa: F401
from carloop.appointments import models as appointments_models  # noqa: F401
from carloop.audit import models as audit_models  # noqa: F401
from carloop.bus import models as bus_models  # noqa: F401
from carloop.campaigns import models as campaigns_models  # noqa: F401
from carloop.campaigns import registration_models as campaign_registration_models  # noqa: F401
from carloop.catalog import models as catalog_models  # noqa: F401
from carloop.community import models as community_models  # noqa: F401
from carloop.db import Base
from carloop.ecosystem import models as ecosystem_models  # noqa: F401
from carloop.invoicing import models as invoicing_models  # noqa: F401
from carloop.jobs import models as jobs_models  # noqa: F401
from carloop.loyalty import models as loyalty_models  # noqa: F401
from carloop.network import models as network_models  # noqa: F401
from carloop.notices import models as notices_models  # noqa: F401
from carloop.ordering import models as ordering_models  # noqa: F401
from carloop.outbox import models as outbox_models  # noqa: F401
from carloop.payments import models as payments_models  # noqa: F401
from carloop.production import models as production_models  # noqa: F401
from carloop.receipts import models as receipts_models  # noqa: F401
from carloop.sms import models as sms_models  # noqa: F401
from carloop.supply import models as supply_models  # noqa: F401

__all__ = ["Base"]
