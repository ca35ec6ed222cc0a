"""The local stack's own pages: index, inbox (SMTP sink), Slack sink, fake BigCommerce API."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from werkzeug.exceptions import NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from cxloop.local.sinks import SlackSink, read_inbox, scripted_answer
from cxloop.local.slack_blocks import mrkdwn, render_blocks

_env = Environment(loader=PackageLoader("cxloop.local", "templates"), autoescape=select_autoescape())
_env.filters["mrkdwn"] = mrkdwn
_env.filters["slack_blocks"] = render_blocks
# The payload as sent, readable: "★", not "\u2605".
_env.filters["pretty_json"] = lambda value: json.dumps(value, indent=2, ensure_ascii=False)


class Pages:
    def __init__(
        self,
        mail_root: Path,
        slack: SlackSink,
        bigcommerce_orders: dict[str, dict[str, Any]],
        status: Callable[[], dict[str, Any]],
        fire_schedule: Callable[[str], Any],
        pause: Callable[[str, bool], None],
    ) -> None:
        self.mail_root = mail_root
        self.slack = slack
        self.bigcommerce_orders = bigcommerce_orders
        self.status = status
        self.fire_schedule = fire_schedule
        self.pause = pause
        self._map = Map(
            [
                Rule("/", endpoint="index"),
                Rule("/_local/inbox", endpoint="inbox"),
                Rule("/_local/inbox.json", endpoint="inbox_json"),
                Rule("/_local/inbox/<key>.html", endpoint="inbox_html"),
                Rule("/_local/slack", endpoint="slack_page", methods=["GET"]),
                Rule("/_local/slack.json", endpoint="slack_json", methods=["GET"]),
                Rule("/_local/slack/stats.json", endpoint="slack_stats", methods=["GET"]),
                Rule("/_local/slack/<hook>", endpoint="slack_post", methods=["POST"]),
                Rule("/_local/slack/<hook>/script", endpoint="slack_script", methods=["POST", "DELETE"]),
                Rule("/_local/status.json", endpoint="status_json"),
                Rule("/_local/schedules/<function>", endpoint="fire", methods=["POST"]),
                Rule("/_local/pump/<function>/<action>", endpoint="pump", methods=["POST"]),
                Rule("/_local/bigcommerce/stores/<store>/v2/orders/<order_id>", endpoint="bc_order"),
                Rule(
                    "/_local/bigcommerce/stores/<store>/v2/orders/<order_id>/shipments",
                    endpoint="bc_shipments",
                ),
                Rule(
                    "/_local/bigcommerce/stores/<store>/v2/orders/<order_id>/products",
                    endpoint="bc_products",
                ),
                Rule(
                    "/_local/bigcommerce/stores/<store>/v3/orders/<order_id>/payment_actions/refunds",
                    endpoint="bc_refunds",
                ),
            ]
        )

    def dispatch(self, request: Request) -> Response:
        endpoint, args = self._map.bind_to_environ(request.environ).match()
        view: Callable[..., Response] = getattr(self, f"_{endpoint}")
        return view(request, **args)

    @staticmethod
    def _html(template: str, **context: Any) -> Response:
        return Response(
            _env.get_template(template).render(**context), content_type="text/html; charset=utf-8"
        )

    @staticmethod
    def _json(value: Any, status: int = 200) -> Response:
        return Response(json.dumps(value, default=str), status=status, content_type="application/json")

    def _index(self, request: Request) -> Response:
        return self._html("index.html", status=self.status())

    def _mails(self) -> list[dict[str, Any]]:
        mails = []
        for key, msg in read_inbox(self.mail_root):
            body = msg.get_body(preferencelist=("plain", "html"))
            html = msg.get_body(preferencelist=("html",))
            mails.append(
                {
                    "id": key,
                    "from": str(msg.get("From", "")),
                    "to": str(msg.get("X-Local-Envelope-To", msg.get("To", ""))),
                    "subject": str(msg.get("Subject", "")),
                    "received_at": str(msg.get("X-Local-Received-At", "")),
                    "text": body.get_content() if body is not None else "",
                    "headers": {k: str(v) for k, v in msg.items()},
                    "html_url": f"/_local/inbox/{key}.html" if html is not None else None,
                }
            )
        return mails

    def _inbox(self, request: Request) -> Response:
        return self._html("inbox.html", mails=self._mails())

    def _inbox_json(self, request: Request) -> Response:
        return self._json(self._mails())

    def _inbox_html(self, request: Request, key: str) -> Response:
        """The HTML part of one message, as a mail client would show it (its links work)."""
        for found, msg in read_inbox(self.mail_root):
            html = msg.get_body(preferencelist=("html",)) if found == key else None
            if html is not None:
                return Response(html.get_content(), content_type="text/html; charset=utf-8")
        return Response("no such message", status=404, content_type="text/plain")

    def _slack_page(self, request: Request) -> Response:
        return self._html("slack.html", messages=list(reversed(self.slack.messages())))

    def _slack_json(self, request: Request) -> Response:
        return self._json(self.slack.messages())

    def _slack_stats(self, request: Request) -> Response:
        return self._json(self.slack.stats())

    def _slack_post(self, request: Request, hook: str) -> Response:
        answer = self.slack.post(hook, request.get_data())
        return Response(answer.body, status=answer.status, headers=answer.headers, content_type="text/plain")

    def _slack_script(self, request: Request, hook: str) -> Response:
        """POST a script (``{"status": 404, "times": 3, ...}``, see ``scripted_answer``): the hook's next
        answers; DELETE: back to normal."""
        if request.method == "DELETE":
            self.slack.reset(hook)
            return self._json({"hook": hook, "script": None})
        try:
            script = scripted_answer(json.loads(request.get_data()))
        except (ValueError, TypeError) as e:
            return self._json({"error": str(e)}, status=400)
        self.slack.script(hook, script)
        return self._json({"hook": hook, "script": vars(script)})

    def _status_json(self, request: Request) -> Response:
        return self._json(self.status())

    def _fire(self, request: Request, function: str) -> Response:
        return self._json({"function": function, "result": self.fire_schedule(function)})

    def _pump(self, request: Request, function: str, action: str) -> Response:
        if action not in ("pause", "resume"):
            raise NotFound("action is pause or resume")
        try:
            self.pause(function, action == "pause")
        except KeyError as e:
            raise NotFound(f"no function {function}") from e
        return self._json({"function": function, "paused": action == "pause"})

    def _bc(self, request: Request, order_id: str) -> dict[str, Any]:
        if request.headers.get("x-auth-token") != "local-bigcommerce-token":
            raise NotFound("unknown token")
        order = self.bigcommerce_orders.get(order_id)
        if order is None:
            raise NotFound(f"no order {order_id}")
        return order

    def _bc_order(self, request: Request, store: str, order_id: str) -> Response:
        return self._json(self._bc(request, order_id)["order"])

    def _bc_shipments(self, request: Request, store: str, order_id: str) -> Response:
        return self._json(self._bc(request, order_id).get("shipments", []))

    def _bc_products(self, request: Request, store: str, order_id: str) -> Response:
        """Paged like BigCommerce's: ``page`` from 1, ``limit`` (default 50), 204 past the end."""
        products = self._bc(request, order_id).get("products", [])
        page = request.args.get("page", 1, type=int) or 1
        limit = request.args.get("limit", 50, type=int) or 50
        chunk = products[(page - 1) * limit : page * limit]
        return self._json(chunk) if chunk else Response(status=204)

    def _bc_refunds(self, request: Request, store: str, order_id: str) -> Response:
        """The v3 shape: the list under ``data``; an order's ``refunds_status`` (403, 404) answers as a
        token without the scope, or a store without the API, would."""
        order = self._bc(request, order_id)
        if status := order.get("refunds_status"):
            title = "You don't have a required scope to access the endpoint" if status == 403 else "Not Found"
            return self._json({"status": status, "title": title}, status=status)
        return self._json({"data": order.get("refunds", []), "meta": {}})
