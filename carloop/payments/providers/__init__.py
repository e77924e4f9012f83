"""Payment providers: the simulator (default) and real adapters behind one interface."""

from __future__ import annotations

from carloop.payments.providers.base import PaymentProvider
from carloop.settings import Settings


def build_provider(settings: Settings) -> PaymentProvider:
    """The provider configured in settings (``CARLOOP_PAYMENT_PROVIDER``)."""
    if settings.payment_provider == "alipay":
        from carloop.payments.providers.alipay import AlipayProvider

        return AlipayProvider.from_settings(settings)
    from carloop.payments.providers.simulator import SimulatorProvider

    return SimulatorProvider.from_settings(settings)
