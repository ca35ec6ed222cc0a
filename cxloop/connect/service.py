"""Connect (or check) one platform's webhook subscriptions, and the per-subscription results for
``cxloop doctor``. A connect is reported done only when the platform's own list, read again after the
changes, holds every wanted subscription as wanted."""

from __future__ import annotations

from dataclasses import dataclass, field

from cxloop.connect.http import PlatformRejected
from cxloop.connect.model import Change, CheckResult, Plan, Subscription, Wanted
from cxloop.connect.plan import diff
from cxloop.connect.ports import Subscriptions


@dataclass
class Report:
    platform: str
    where: str
    plan: Plan  # before any change
    done: list[Change] = field(default_factory=list)  # applied and confirmed by the platform's answer
    confirmed: Plan | None = None  # the list read again after the changes

    @property
    def connected(self) -> bool:
        return self.confirmed is not None and self.confirmed.settled


def run(api: Subscriptions, wanted: tuple[Wanted, ...], shop_id: str, check: bool) -> Report:
    """``check``: read and compare only. Otherwise create, update and delete what the plan says, each
    confirmed by the platform's answer, then read the list again to confirm the whole."""
    plan = diff(wanted, api.list(), api.platform, shop_id)
    report = Report(api.platform.value, api.where, plan)
    if check:
        return report
    for change in plan.pending:
        _apply(api, change)
        report.done.append(change)
    report.confirmed = diff(wanted, api.list(), api.platform, shop_id)
    return report


def _apply(api: Subscriptions, change: Change) -> None:
    if change.kind == "delete" and change.existing is not None:
        api.delete(change.existing)
        return
    assert change.wanted is not None
    if change.kind == "create":
        answered = api.create(change.wanted)
    else:
        assert change.existing is not None
        answered = api.update(change.existing, change.wanted)
    _confirm(api, change.wanted, answered)


def _confirm(api: Subscriptions, want: Wanted, got: Subscription) -> None:
    """The platform's answer must show the subscription as wanted, or nothing is claimed."""
    wrong = []
    if got.topic != want.topic:
        wrong.append(f"topic {got.topic!r}")
    if got.address.rstrip("/") != want.address.rstrip("/"):
        wrong.append(f"address {got.address!r}")
    if not got.active:
        wrong.append("inactive")
    if want.secret_mark and got.secret_mark != want.secret_mark:
        wrong.append("not marked with the secret cxloop set")
    if wrong:
        raise PlatformRejected(
            f"{api.platform.value}: the answer for {want.topic} does not confirm it ({', '.join(wrong)})"
        )


def results(report: Report, fix: str) -> list[CheckResult]:
    """One result per wanted topic (and per duplicate) from the plan read before any change."""
    out = []
    for change in report.plan.changes:
        name = f"{report.platform} {change.topic}"
        if change.kind == "keep" and not change.warnings:
            detail = f"subscribed, delivering to {change.existing.address if change.existing else '?'}"
            out.append(CheckResult(status="ok", name=name, detail=detail))
        elif change.kind == "keep":
            out.append(
                CheckResult(
                    status="warn",
                    name=name,
                    detail="; ".join(change.warnings),
                    fix="the app's configuration in Shopify (docs/connect.md)",
                )
            )
        elif change.kind == "delete":
            subscription = change.existing.id if change.existing else "?"
            out.append(
                CheckResult(
                    status="warn", name=name, detail=f"duplicate subscription {subscription}", fix=fix
                )
            )
        else:
            detail = "not subscribed" if change.kind == "create" else "; ".join(change.reasons)
            out.append(CheckResult(status="fail", name=name, detail=detail, fix=fix))
    return out
