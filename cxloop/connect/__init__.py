"""``cxloop shop connect``: the shop's webhook subscriptions, registered (or checked) at its platform
through the platform's own API, idempotently.

``verify`` is what ``cxloop doctor`` calls: one :class:`~cxloop.connect.model.CheckResult` per expected
subscription, changing nothing and raising nothing for a platform's refusal.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from cxloop.connect.access import NoAccess, Options, Prompt, resolve, stored_with, subscriptions
from cxloop.connect.http import PlatformError, Transport, urllib3_transport
from cxloop.connect.model import CheckResult
from cxloop.connect.plan import wanted
from cxloop.connect.service import Report, results, run
from shared.tenancy import Platform

__all__ = ["CheckResult", "Options", "Report", "connect_platform", "verify"]


def fix_for(shop_id: str, platform: Platform) -> str:
    return f"run cxloop shop connect {shop_id} --platform {platform.value}"


def connect_platform(
    admin: Any,
    shop_id: str,
    platform: Platform,
    *,
    check: bool,
    options: Options,
    env: Mapping[str, str],
    prompt: Prompt | None = None,
    transport: Transport | None = None,
    sleep: Callable[[float], None] | None = None,
) -> Report:
    """Connect (or, with ``check``, only compare) one platform of a shop. A credential given through the
    environment or the prompt is stored in the shop's secret once the platform confirmed everything."""
    shop = admin.shops.get(shop_id)
    stored = admin.secrets.get(shop_id, fresh=True)
    if shop is None or stored is None:
        raise NoAccess(f"shop_id {shop_id!r}: no such shop (add it with `cxloop shop add`)")
    if platform not in shop.platforms:
        on = ", ".join(p.value for p in shop.platforms)
        raise NoAccess(f"--platform {platform.value}: shop {shop_id!r} is on {on} only")
    if not admin.api_url:
        raise NoAccess(
            "no webhook URL: give --api-url with the deployed stack's ApiUrl (https://...), or start "
            "`cxloop run`"
        )
    access = resolve(platform, shop, stored, options, env, prompt)
    entry = stored.platforms.get(platform)
    client_secret = entry.current if entry and platform is Platform.SHOPIFY else None
    api = subscriptions(access, shop, options, transport or urllib3_transport(), sleep, client_secret)
    report = run(
        api, wanted(platform, shop_id, admin.api_url, entry.current if entry else None), shop_id, check
    )
    if report.connected and access.given:
        admin.secrets.put(shop_id, stored_with(admin.secrets.get(shop_id, fresh=True) or stored, access))
    return report


def verify(
    admin: Any,
    shop_id: str,
    platforms: tuple[Platform, ...] | None = None,
    *,
    options: Options | None = None,
    env: Mapping[str, str] | None = None,
    transport: Transport | None = None,
    sleep: Callable[[float], None] | None = None,
) -> list[CheckResult]:
    """Per expected subscription: ok, warn or fail, a one-line detail and the fix. Reads the stored
    credentials (or ``env``'s); changes nothing at the platform or in AWS."""
    shop = admin.shops.get(shop_id)
    if shop is None:
        return [
            CheckResult(status="fail", name=f"shop {shop_id}", detail="no such shop", fix="cxloop shop add")
        ]
    out: list[CheckResult] = []
    for platform in platforms or shop.platforms:
        fix = fix_for(shop_id, platform)
        try:
            report = connect_platform(
                admin,
                shop_id,
                platform,
                check=True,
                options=options or Options(),
                env=env or {},
                transport=transport,
                sleep=sleep,
            )
        except NoAccess as e:
            detail, hint = f"not checked: {e}", f"{fix} (docs/connect.md: the credentials)"
            out.append(
                CheckResult(
                    status="warn",
                    name=f"{platform.value} webhooks",
                    detail=detail,
                    fix=hint,
                    platform=platform,
                )
            )
            continue
        except PlatformError as e:
            out.append(
                CheckResult(
                    status="fail", name=f"{platform.value} API", detail=str(e), fix=fix, platform=platform
                )
            )
            continue
        out += [r.model_copy(update={"platform": platform}) for r in results(report, fix)]
    return out
