"""Payment providers: the simulator (default) and real adapters behind one interface."""

from __future__ import annotations

from collections.abc import Mapping

from carloop.errors import ErrorCode, PaymentFailed
from carloop.payments.providers.base import Notification, PaymentProvider, PaymentStart, RefundResult
from carloop.settings import Settings


def _build(name: str, settings: Settings) -> PaymentProvider:
    if name == "alipay":
        from carloop.payments.providers.alipay import AlipayProvider

        return AlipayProvider.from_settings(settings)
    if name == "wechat":
        from carloop.payments.providers.wechat import WeChatPayProvider

        return WeChatPayProvider.from_settings(settings)
    from carloop.payments.providers.simulator import SimulatorProvider

    return SimulatorProvider.from_settings(settings)


def build_provider(settings: Settings) -> PaymentProvider:
    """The provider new payments start with (``CARLOOP_PAYMENT_PROVIDER``)."""
    return _build(settings.payment_provider, settings)


def build_providers(settings: Settings) -> ProviderSet:
    """Every configured provider, the default first (the pay page offers each of them)."""
    return ProviderSet({name: _build(name, settings) for name in settings.payment_providers})


class ProviderSet:
    """Every configured provider, acting as the default one; ``get`` finds the one that took a payment.

    The app keeps one of these as its provider: payments start with the default (``name``), the pay
    page lets the buyer switch to any other in ``names``, and refunds go to whichever provider took
    the payment (``service.provider_for``).
    """

    def __init__(self, providers: Mapping[str, PaymentProvider]) -> None:
        if not providers:
            raise PaymentFailed("no payment provider is configured", code=ErrorCode.PAYMENT_FAILED)
        self._providers = dict(providers)
        self.default = next(iter(self._providers.values()))
        self.name = self.default.name

    def __getattr__(self, attribute: str) -> object:
        """Anything else is the default provider's (the simulator's ``signed_notification``...)."""
        if attribute.startswith("_") or attribute == "default":
            raise AttributeError(attribute)
        return getattr(self.default, attribute)

    @property
    def names(self) -> list[str]:
        """The configured providers' names, the default first."""
        return list(self._providers)

    def get(self, name: str) -> PaymentProvider | None:
        """The provider called ``name``, if it is configured."""
        return self._providers.get(name)

    def start_payment(
        self, *, trade_no: str, amount_fen: int, subject: str, return_url: str, notify_url: str
    ) -> PaymentStart:
        """Start with the default provider."""
        return self.default.start_payment(
            trade_no=trade_no,
            amount_fen=amount_fen,
            subject=subject,
            return_url=return_url,
            notify_url=notify_url,
        )

    def verify_notification(self, form: Mapping[str, str]) -> Notification:
        """Verify as the default provider (routes pick the named provider with ``get``)."""
        return self.default.verify_notification(form)

    def refund(self, *, trade_no: str, refund_no: str, amount_fen: int, reason: str) -> RefundResult:
        """Refund through the default provider (``service.provider_for`` picks the payment's own)."""
        return self.default.refund(
            trade_no=trade_no, refund_no=refund_no, amount_fen=amount_fen, reason=reason
        )


def provider_for(provider: PaymentProvider, name: str) -> PaymentProvider:
    """The provider called ``name`` in the set ``provider`` is (a lone provider is its own answer)."""
    if not isinstance(provider, ProviderSet):
        return provider
    found = provider.get(name)
    if found is None:
        raise PaymentFailed(f"Payment provider {name} is not configured.", code=ErrorCode.PAYMENT_FAILED)
    return found
