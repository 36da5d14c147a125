"""Message templates per language, rendered in a Jinja2 sandbox with escaping.

The file (``churn_platform/policies/message_templates.yaml``, ``CHURN_TEMPLATES_PATH``) holds, per template
and language, the email subject and body, the SMS text and the push/in-app title and body; the
customer-facing reason per churn factor; and the team's task text. ``language`` of an account picks the
language (its primary subtag: ``es-MX`` is ``es``); a language the file lacks falls back to the default.
HTML is rendered with autoescaping (a name like ``<script>`` arrives as text), plain text and SMS have
control characters other than line breaks removed, and a placeholder the template does not know is an
error at load time, not at send time.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import escape
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ml.policy import load_yaml_model

DEFAULT_TEMPLATES_PATH = Path(__file__).resolve().parents[2] / "policies" / "message_templates.yaml"
PLACEHOLDERS = {"name", "offer", "reason", "company", "playbook", "due_on"}
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Localized(_Strict):
    """One template in one language."""

    subject: str = Field(min_length=1)
    body: str = Field(min_length=1)
    sms: str = Field(min_length=1)
    push_title: str = Field(min_length=1)
    push_body: str = Field(min_length=1)


class TaskTemplate(_Strict):
    title: str = Field(min_length=1)
    details: str = Field(min_length=1)


class MessageTemplates(_Strict):
    version: str = Field(min_length=1)
    languages: tuple[str, ...] = Field(min_length=1)
    default_language: str = "en"
    templates: dict[str, dict[str, Localized]]
    reasons: dict[str, dict[str, str]]
    task: TaskTemplate

    @model_validator(mode="after")
    def _complete(self) -> MessageTemplates:
        if self.default_language not in self.languages:
            raise ValueError(f"default_language: {self.default_language!r} is not one of languages")
        if "default" not in self.templates:
            raise ValueError("templates: needs a `default` template")
        if "other" not in self.reasons:
            raise ValueError("reasons: needs an `other` reason")
        for name, by_language in self.templates.items():
            missing = [lang for lang in self.languages if lang not in by_language]
            if missing:
                raise ValueError(f"templates.{name}: missing language(s) {missing}")
        for factor, by_text in self.reasons.items():
            missing = [lang for lang in self.languages if lang not in by_text]
            if missing:
                raise ValueError(f"reasons.{factor}: missing language(s) {missing}")
        env = _environment(autoescape=False)
        sources: list[tuple[str, str]] = [(f"templates.{n}.{lang}.{k}", v) for n, b in self.templates.items() for lang, t in b.items()
                 for k, v in t.model_dump().items()]  # fmt: skip
        sources += [(f"task.{k}", v) for k, v in self.task.model_dump().items()]
        for where, text in sources:
            try:
                parsed = env.parse(text)
            except TemplateError as exc:
                raise ValueError(f"{where}: not a valid template: {exc}") from None
            from jinja2 import meta

            unknown = meta.find_undeclared_variables(parsed) - PLACEHOLDERS
            if unknown:
                raise ValueError(
                    f"{where}: unknown placeholder(s) {sorted(unknown)}; known are {sorted(PLACEHOLDERS)}"
                )
        return self

    def language_of(self, value: object) -> str:
        """The template language for an account's ``language`` value (default when empty or not offered)."""
        text = str(value or "").strip().replace("_", "-").split("-")[0].lower()
        return text if text in self.languages else self.default_language

    def localized(self, template: str | None, language: str) -> Localized:
        by_language = self.templates.get(template or "", self.templates["default"])
        return by_language.get(language, by_language[self.default_language])

    def reason(self, factor: str | None, language: str) -> str:
        by_language = self.reasons.get(factor or "other", self.reasons["other"])
        return by_language.get(language, by_language[self.default_language])


class TemplatesError(ValueError):
    """A template file that cannot be used; the message names the file and the key."""


@functools.cache
def _environment(autoescape: bool) -> SandboxedEnvironment:
    return SandboxedEnvironment(autoescape=autoescape, undefined=StrictUndefined, keep_trailing_newline=False)


def load_templates(path: Path = DEFAULT_TEMPLATES_PATH) -> MessageTemplates:
    """Read and validate the template file."""
    return load_yaml_model(path, MessageTemplates, TemplatesError)


def render_text(template: str, values: dict[str, Any]) -> str:
    """Plain text (email body, SMS, push): values inserted as they are, control characters removed."""
    text = _environment(False).from_string(template).render(**{k: str(v) for k, v in values.items()})
    return _CONTROL.sub("", text)


def render_html(template: str, values: dict[str, Any]) -> str:
    """HTML: every value escaped, line breaks of the template become ``<br>``."""
    paragraphs = template.split("\n\n")
    env = _environment(True)
    rendered = [
        env.from_string(p).render(**{k: str(v) for k, v in values.items()}).replace("\n", "<br>")
        for p in paragraphs
    ]
    return "".join(f"<p>{p}</p>" for p in rendered)


def single_line(text: str) -> str:
    """A header value (a subject): line breaks and control characters become spaces."""
    return re.sub(r"\s+", " ", re.sub(r"[\x00-\x1f\x7f]", " ", text)).strip()


__all__ = ["MessageTemplates", "escape", "load_templates", "render_html", "render_text", "single_line"]
