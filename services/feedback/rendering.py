"""The survey e-mail and the answer pages, rendered from the view models with jinja2.

Every word a customer reads lives in ``STRINGS`` (en, de, fr), never in the templates. The templates
escape everything in ``.html`` (autoescape) and nothing in ``.txt`` (a text part is plain text, so a
comment reads as typed). Importing this module is cheap: jinja2 is imported and the environment built
at the first render.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from services.feedback.domain.surveys.programme import SurveyType
from services.feedback.domain.surveys.views import Branding, InvitationEmail, Page, PageView, ScoreLink
from shared import templates
from shared.mail.message import RenderedMail

if TYPE_CHECKING:
    import jinja2

TEMPLATES = Path(__file__).resolve().parent / "templates"
DEFAULT_LANGUAGE = "en"
DEFAULT_COLOUR = "#1f6feb"
DARK_TEXT = "#000000"
LIGHT_TEXT = "#ffffff"
_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")

# The names of the answer page's form fields (what the comment handler reads).
COMMENT_FIELD = "comment"
FOLLOW_UP_FIELD = "follow_up"
# RFC 8058: the body a one-click unsubscribe POST carries.
ONE_CLICK_NAME = "List-Unsubscribe"
ONE_CLICK_VALUE = "One-Click"

# A scale longer than this is shown as two halves that each stay on one line: on a phone the halves
# stack (0-5 over 6-10), on a wider screen they sit side by side.
MAX_GROUP = 6

# Every user-visible string, per language. ``{placeholders}`` are filled in Python, never in templates.
STRINGS: dict[str, dict[str, str]] = {
    "en": {
        "subject": "Quick question about your order {order}",
        "subject_no_order": "Quick question from {brand}",
        "reminder_subject": "Reminder: quick question about your order {order}",
        "reminder_subject_no_order": "Reminder: quick question from {brand}",
        "greeting": "Hello,",
        "greeting_named": "Hi {name},",
        "intro": "Thank you for shopping with {brand}. We would love to hear what you think about "
        "your order {order} — it takes just one click.",
        "intro_no_order": "Thank you for shopping with {brand}. We would love to hear what you think "
        "about your recent order — it takes just one click.",
        "reminder_intro": "A few days ago we asked what you think about your order {order}. If you "
        "have a moment, one click is all it takes, and it really helps {brand}.",
        "reminder_intro_no_order": "A few days ago we asked what you think about your recent order. "
        "If you have a moment, one click is all it takes, and it really helps {brand}.",
        "hint": "Choose a score to answer. You can add a comment on the next page.",
        "footer_reason": "You are receiving this e-mail because you recently ordered from {brand}.",
        "unsubscribe": "Unsubscribe from survey e-mails",
        "colon": ":",
        "score_of": "{score} out of {max}",
        "score_end": "{score} — {label}",
        "scale_label": "Your score",
        "nps_low": "Not at all likely",
        "nps_high": "Extremely likely",
        "csat_low": "Very dissatisfied",
        "csat_high": "Very satisfied",
        "ces_low": "Very little effort",
        "ces_high": "A great deal of effort",
        "answer_title": "Thank you",
        "thanks_score": "Thanks — you answered {score}",
        "thanks": "Thank you for your answer",
        "change_score": "Changed your mind? Choose another score:",
        "comment_label": "Would you like to tell us more? (optional)",
        "optional": "(optional)",
        "limit_note": "Up to {n} characters.",
        "submit": "Send",
        "choose_title": "Your feedback",
        "choose_intro": "Please choose a score:",
        "commented_title": "Thank you",
        "commented_heading": "Thank you for your feedback",
        "commented_body": "We have received your feedback. It helps us get better.",
        "already_complete": "Your answer had already been recorded, so nothing was changed. Thank you!",
        "your_comment": "Your comment",
        "your_answer": "Your answer",
        "unsubscribe_title": "Unsubscribe",
        "unsubscribe_heading": "Unsubscribe from survey e-mails?",
        "unsubscribe_body": "Confirm below and you will no longer receive e-mails from {brand} asking "
        "for your feedback.",
        "unsubscribe_button": "Unsubscribe",
        "unsubscribed_title": "Unsubscribed",
        "unsubscribed_heading": "You are unsubscribed",
        "unsubscribed_body": "You will no longer receive e-mails from {brand} asking for your feedback.",
        "not_found_title": "Link not valid",
        "not_found_heading": "This link is not valid",
        "not_found_body": "This link is not valid or has expired.",
    },
    "de": {
        "subject": "Kurze Frage zu Ihrer Bestellung {order}",
        "subject_no_order": "Kurze Frage von {brand}",
        "reminder_subject": "Erinnerung: Kurze Frage zu Ihrer Bestellung {order}",
        "reminder_subject_no_order": "Erinnerung: Kurze Frage von {brand}",
        "greeting": "Guten Tag,",
        "greeting_named": "Hallo {name},",
        "intro": "vielen Dank für Ihren Einkauf bei {brand}. Wir würden gerne erfahren, wie Sie Ihre "
        "Bestellung {order} fanden \u2013 es dauert nur einen Klick.",
        "intro_no_order": "vielen Dank für Ihren Einkauf bei {brand}. Wir würden gerne erfahren, wie Sie "
        "Ihre letzte Bestellung fanden \u2013 es dauert nur einen Klick.",
        "reminder_intro": "vor ein paar Tagen haben wir Sie nach Ihrer Meinung zu Ihrer Bestellung {order} "
        "gefragt. Wenn Sie einen Moment Zeit haben: Ein Klick genügt, und {brand} hilft das sehr.",
        "reminder_intro_no_order": "vor ein paar Tagen haben wir Sie nach Ihrer Meinung zu Ihrer letzten "
        "Bestellung gefragt. Wenn Sie einen Moment Zeit haben: Ein Klick genügt, und {brand} hilft das "
        "sehr.",
        "hint": "Wählen Sie eine Bewertung. Auf der nächsten Seite können Sie einen Kommentar hinzufügen.",
        "footer_reason": "Sie erhalten diese E-Mail, weil Sie kürzlich bei {brand} bestellt haben.",
        "unsubscribe": "Von Umfrage-E-Mails abmelden",
        "colon": ":",
        "score_of": "{score} von {max}",
        "score_end": "{score} — {label}",
        "scale_label": "Ihre Bewertung",
        "nps_low": "Überhaupt nicht wahrscheinlich",
        "nps_high": "Äußerst wahrscheinlich",
        "csat_low": "Sehr unzufrieden",
        "csat_high": "Sehr zufrieden",
        "ces_low": "Sehr geringer Aufwand",
        "ces_high": "Sehr großer Aufwand",
        "answer_title": "Vielen Dank",
        "thanks_score": "Danke \u2013 Sie haben {score} gewählt",
        "thanks": "Vielen Dank für Ihre Antwort",
        "change_score": "Anders entschieden? Wählen Sie eine andere Bewertung:",
        "comment_label": "Möchten Sie uns mehr erzählen? (optional)",
        "optional": "(optional)",
        "limit_note": "Höchstens {n} Zeichen.",
        "submit": "Senden",
        "choose_title": "Ihre Meinung",
        "choose_intro": "Bitte wählen Sie eine Bewertung:",
        "commented_title": "Vielen Dank",
        "commented_heading": "Vielen Dank für Ihr Feedback",
        "commented_body": "Wir haben Ihr Feedback erhalten. Es hilft uns, besser zu werden.",
        "already_complete": "Ihre Antwort war bereits gespeichert, daher wurde nichts geändert. Vielen Dank!",
        "your_comment": "Ihr Kommentar",
        "your_answer": "Ihre Antwort",
        "unsubscribe_title": "Abmelden",
        "unsubscribe_heading": "Von Umfrage-E-Mails abmelden?",
        "unsubscribe_body": "Bestätigen Sie unten, und Sie erhalten keine E-Mails mehr von {brand}, in "
        "denen wir Sie um Ihre Meinung bitten.",
        "unsubscribe_button": "Abmelden",
        "unsubscribed_title": "Abgemeldet",
        "unsubscribed_heading": "Sie sind abgemeldet",
        "unsubscribed_body": "Sie erhalten keine E-Mails mehr von {brand}, in denen wir Sie um Ihre "
        "Meinung bitten.",
        "not_found_title": "Link ungültig",
        "not_found_heading": "Dieser Link ist ungültig",
        "not_found_body": "Dieser Link ist ungültig oder abgelaufen.",
    },
    "fr": {
        "subject": "Une petite question sur votre commande {order}",
        "subject_no_order": "Une petite question de la part de {brand}",
        "reminder_subject": "Rappel\u00a0: une petite question sur votre commande {order}",
        "reminder_subject_no_order": "Rappel\u00a0: une petite question de la part de {brand}",
        "greeting": "Bonjour,",
        "greeting_named": "Bonjour {name},",
        "intro": "Merci pour votre achat chez {brand}. Nous aimerions savoir ce que vous pensez de votre "
        "commande {order}\u00a0: un seul clic suffit.",
        "intro_no_order": "Merci pour votre achat chez {brand}. Nous aimerions savoir ce que vous pensez "
        "de votre dernière commande\u00a0: un seul clic suffit.",
        "reminder_intro": "Il y a quelques jours, nous vous avons demandé votre avis sur votre commande "
        "{order}. Si vous avez un instant, un seul clic suffit, et cela aide beaucoup {brand}.",
        "reminder_intro_no_order": "Il y a quelques jours, nous vous avons demandé votre avis sur votre "
        "dernière commande. Si vous avez un instant, un seul clic suffit, et cela aide beaucoup {brand}.",
        "hint": "Choisissez une note pour répondre. Vous pourrez ajouter un commentaire sur la page "
        "suivante.",
        "footer_reason": "Vous recevez cet e-mail car vous avez récemment passé commande chez {brand}.",
        "unsubscribe": "Se désabonner des e-mails d'enquête",
        "colon": "\u00a0:",
        "score_of": "{score} sur {max}",
        "score_end": "{score} — {label}",
        "scale_label": "Votre note",
        "nps_low": "Pas du tout probable",
        "nps_high": "Extrêmement probable",
        "csat_low": "Très insatisfait(e)",
        "csat_high": "Très satisfait(e)",
        "ces_low": "Très peu d'effort",
        "ces_high": "Énormément d'effort",
        "answer_title": "Merci",
        "thanks_score": "Merci — vous avez répondu {score}",
        "thanks": "Merci pour votre réponse",
        "change_score": "Vous avez changé d'avis\u00a0? Choisissez une autre note\u00a0:",
        "comment_label": "Souhaitez-vous nous en dire plus\u00a0? (facultatif)",
        "optional": "(facultatif)",
        "limit_note": "{n}\u00a0caractères maximum.",
        "submit": "Envoyer",
        "choose_title": "Votre avis",
        "choose_intro": "Veuillez choisir une note\u00a0:",
        "commented_title": "Merci",
        "commented_heading": "Merci pour votre avis",
        "commented_body": "Nous avons bien reçu votre avis. Il nous aide à nous améliorer.",
        "already_complete": "Votre réponse avait déjà été enregistrée, rien n'a donc été modifié. "
        "Merci\u00a0!",
        "your_comment": "Votre commentaire",
        "your_answer": "Votre réponse",
        "unsubscribe_title": "Désabonnement",
        "unsubscribe_heading": "Se désabonner des e-mails d'enquête\u00a0?",
        "unsubscribe_body": "Confirmez ci-dessous et vous ne recevrez plus d'e-mails de {brand} vous "
        "demandant votre avis.",
        "unsubscribe_button": "Se désabonner",
        "unsubscribed_title": "Désabonnement confirmé",
        "unsubscribed_heading": "Vous êtes désabonné(e)",
        "unsubscribed_body": "Vous ne recevrez plus d'e-mails de {brand} vous demandant votre avis.",
        "not_found_title": "Lien non valide",
        "not_found_heading": "Ce lien n'est pas valide",
        "not_found_body": "Ce lien n'est pas valide ou a expiré.",
    },
}

_THOUSANDS = {"en": ",", "de": ".", "fr": "\u202f"}


@dataclass(frozen=True)
class ScoreButton:
    """One score of the scale as the templates show it."""

    score: int
    url: str
    aria: str  # the link's accessible name: "10 — Extremely likely", "7 out of 10"
    label: str  # the scale's end label on the lowest and highest score ("Extremely likely"), else ""
    end_label: str  # the same with its score, as shown below the scale ("10 — Extremely likely")
    current: bool = False
    background: str = DEFAULT_COLOUR  # the button's colour: red to green on NPS and CSAT, else the brand's
    foreground: str = LIGHT_TEXT  # black or white, whichever reads better on it


# Red (worst) to green (best), as readers expect of these scales; the end labels say the same in words,
# for readers who cannot tell the colours apart. NPS: detractors 0-6 red to orange, passives 7-8 amber,
# promoters 9-10 green. CES has no such colours (its high end is the bad one): it keeps the brand's.
SHADES: dict[SurveyType, tuple[str, ...]] = {
    SurveyType.NPS: ("#a50026", "#b8112a", "#c9252d", "#d73027", "#e34a33", "#ec5a3a", "#f46d43",
                     "#fdae61", "#fee08b", "#66bd63", "#1a9850"),
    SurveyType.CSAT: ("#d73027", "#f46d43", "#fee08b", "#66bd63", "#1a9850"),
}  # fmt: skip


def shade(survey_type: SurveyType | None, position: int, count: int, brand: str) -> str:
    """The colour of the ``position``-th of ``count`` buttons: the type's shade, else the brand colour."""
    shades = SHADES.get(survey_type) if survey_type else None
    return shades[position] if shades and len(shades) == count else brand_colour(brand)


# ---------------------------------------------------------------------------------------------- helpers


def language_of(code: str) -> str:
    """The language shown: the requested one when there are strings for it, else English."""
    return code if code in STRINGS else DEFAULT_LANGUAGE


def end_labels(language: str, survey_type: SurveyType) -> tuple[str, str]:
    t = STRINGS[language_of(language)]
    return t[f"{survey_type.value}_low"], t[f"{survey_type.value}_high"]


def brand_colour(value: str) -> str:
    """The brand colour as ``#rrggbb``; anything else (it lands in CSS) falls back to the default."""
    return value.lower() if _COLOUR.match(value) else DEFAULT_COLOUR


def relative_luminance(colour: str) -> float:
    """WCAG 2 relative luminance of ``#rrggbb`` (0 black … 1 white)."""
    rgb = brand_colour(colour)
    channels = [int(rgb[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def text_colour(background: str) -> str:
    """Black or white, whichever contrasts more with ``background`` (white wins a tie)."""
    lum = relative_luminance(background)
    on_white = 1.05 / (lum + 0.05)
    on_black = (lum + 0.05) / 0.05
    return DARK_TEXT if on_black > on_white else LIGHT_TEXT


def plain_line(text: str) -> str:
    """One line of plain text: every run of whitespace (newlines included) becomes one space."""
    return " ".join(text.split())


def format_number(n: int, language: str) -> str:
    return f"{n:,}".replace(",", _THOUSANDS.get(language_of(language), ","))


def _safe_logo(url: str | None) -> str | None:
    """Only an https:// logo is shown (mail clients block anything else; nothing else is a URL)."""
    return url if url and url.startswith("https://") else None


def _buttons(
    scale: list[ScoreLink],
    survey_type: SurveyType | None,
    language: str,
    current: int | None = None,
    colour: str = DEFAULT_COLOUR,
) -> list[ScoreButton]:
    t = STRINGS[language_of(language)]
    ordered = sorted(scale, key=lambda link: link.score)
    if not ordered:
        return []
    low, high = end_labels(language, survey_type) if survey_type else ("", "")
    top = ordered[-1].score
    buttons = []
    for i, link in enumerate(ordered):
        label = low if i == 0 else high if i == len(ordered) - 1 else ""
        aria = t["score_end"].format(score=link.score, label=label) if label else ""
        background = shade(survey_type, i, len(ordered), colour)
        buttons.append(
            ScoreButton(
                score=link.score,
                url=link.url,
                aria=aria or t["score_of"].format(score=link.score, max=top),
                label=label,
                end_label=aria,
                current=current is not None and link.score == current,
                background=background,
                foreground=text_colour(background),
            )
        )
    return buttons


def _groups(buttons: list[ScoreButton]) -> list[list[ScoreButton]]:
    if len(buttons) <= MAX_GROUP:
        return [buttons]
    half = (len(buttons) + 1) // 2
    return [buttons[:half], buttons[half:]]


def _base(view: Branding) -> dict[str, Any]:
    lang = language_of(view.language)
    colour = brand_colour(view.colour)
    return {
        "lang": lang,
        "t": STRINGS[lang],
        "brand_name": view.brand_name,
        "colour": colour,
        "on_colour": text_colour(colour),
    }


def _environment() -> jinja2.Environment:
    return templates.environment(TEMPLATES)


def _render(template: str, context: dict[str, Any]) -> str:
    return _environment().get_template(template).render(context)


# ----------------------------------------------------------------------------------------------- e-mail


def email_subject(view: InvitationEmail) -> str:
    t = STRINGS[language_of(view.language)]
    order = plain_line(view.order_name)
    key = ("reminder_subject" if view.reminder else "subject") + ("" if order else "_no_order")
    return plain_line(t[key].format(order=order, brand=view.brand_name))


def _email_context(view: InvitationEmail) -> dict[str, Any]:
    context = _base(view)
    t = context["t"]
    order = plain_line(view.order_name)
    name = plain_line(view.first_name or "")
    intro = ("reminder_intro" if view.reminder else "intro") + ("" if order else "_no_order")
    buttons = _buttons(view.scale, view.survey_type, view.language, colour=view.colour)
    context.update(
        subject=email_subject(view),
        preheader=plain_line(view.question),
        greeting=t["greeting_named"].format(name=name) if name else t["greeting"],
        intro=t[intro].format(order=order, brand=view.brand_name),
        question=view.question,
        buttons=buttons,
        groups=_groups(buttons),
        low_label=buttons[0].end_label if buttons else "",
        high_label=buttons[-1].end_label if buttons else "",
        footer_reason=t["footer_reason"].format(brand=view.brand_name),
        unsubscribe_url=view.unsubscribe_url,
        logo_url=_safe_logo(view.logo_url),
    )
    return context


def render_email(view: InvitationEmail) -> RenderedMail:
    """The survey e-mail (or its reminder) as subject, HTML part and text part."""
    context = _email_context(view)
    return RenderedMail(
        subject=context["subject"],
        html=_render("email.html", context),
        text=_render("email.txt", context),
    )


# ------------------------------------------------------------------------------------------------ pages


def _page_context(page: Page, view: PageView) -> dict[str, Any]:
    context = _base(view)
    t = context["t"]
    buttons = _buttons(view.scale, view.survey_type, view.language, current=view.score, colour=view.colour)
    heading = t["thanks"]
    if page is Page.ANSWER and view.score is not None:
        heading = t["thanks_score"].format(score=view.score)
    context.update(
        heading=heading,
        question=view.question,
        buttons=buttons,
        groups=_groups(buttons),
        low_label=buttons[0].end_label if buttons else "",
        high_label=buttons[-1].end_label if buttons else "",
        follow_up_question=view.follow_up_question,
        comment=view.comment,
        follow_up_answer=view.follow_up_answer,
        form_action=view.form_action,
        max_comment_chars=view.max_comment_chars,
        limit_note=t["limit_note"].format(n=format_number(view.max_comment_chars, view.language)),
        already_complete=view.already_complete,
        brand_text={key: t[key].format(brand=view.brand_name) for key in _BRANDED},
        comment_field=COMMENT_FIELD,
        follow_up_field=FOLLOW_UP_FIELD,
        one_click_name=ONE_CLICK_NAME,
        one_click_value=ONE_CLICK_VALUE,
    )
    return context


_BRANDED = ("unsubscribe_body", "unsubscribed_body")


@cache
def _not_found() -> str:
    """One page for every bad, expired or unknown token: in all languages, with nothing from the view."""
    context = _base(Branding())
    context.update(
        others=[(lang, STRINGS[lang]) for lang in STRINGS if lang != DEFAULT_LANGUAGE],
    )
    return _render("not_found.html", context)


def render_page(page: Page, view: PageView) -> str:
    """One of the answer pages as a complete HTML document."""
    if page is Page.NOT_FOUND:
        return _not_found()
    return _render(f"{page.value}.html", _page_context(page, view))
