"""How simulated customers can be reached beyond email: a phone in E.164, consents, language, time zone.

Phones, languages and time zones follow the customer's country (a calling code, the country's main language
where the platform has templates in it, a representative IANA zone); they are a pure function of the
customer, so re-deliveries of an account carry the same values. Countries missing here get no phone and the
default language and zone.
"""

from __future__ import annotations

# ISO 3166-1 alpha-2 -> (calling code, language, IANA time zone)
COUNTRY_CONTACT: dict[str, tuple[str, str, str]] = {
    "US": ("1", "en", "America/New_York"), "CA": ("1", "en", "America/Toronto"),
    "GB": ("44", "en", "Europe/London"), "IE": ("353", "en", "Europe/Dublin"),
    "AU": ("61", "en", "Australia/Sydney"), "NZ": ("64", "en", "Pacific/Auckland"),
    "DE": ("49", "de", "Europe/Berlin"), "AT": ("43", "de", "Europe/Vienna"), "CH": ("41", "de", "Europe/Zurich"),
    "FR": ("33", "fr", "Europe/Paris"), "BE": ("32", "fr", "Europe/Brussels"),
    "ES": ("34", "es", "Europe/Madrid"), "MX": ("52", "es", "America/Mexico_City"),
    "AR": ("54", "es", "America/Argentina/Buenos_Aires"), "CO": ("57", "es", "America/Bogota"),
    "CL": ("56", "es", "America/Santiago"), "PE": ("51", "es", "America/Lima"),
    "IT": ("39", "en", "Europe/Rome"), "NL": ("31", "en", "Europe/Amsterdam"), "SE": ("46", "en", "Europe/Stockholm"),
    "NO": ("47", "en", "Europe/Oslo"), "DK": ("45", "en", "Europe/Copenhagen"), "FI": ("358", "en", "Europe/Helsinki"),
    "PL": ("48", "en", "Europe/Warsaw"), "PT": ("351", "en", "Europe/Lisbon"), "CZ": ("420", "en", "Europe/Prague"),
    "GR": ("30", "en", "Europe/Athens"), "RO": ("40", "en", "Europe/Bucharest"), "HU": ("36", "en", "Europe/Budapest"),
    "TR": ("90", "en", "Europe/Istanbul"), "BR": ("55", "en", "America/Sao_Paulo"), "IN": ("91", "en", "Asia/Kolkata"),
    "JP": ("81", "en", "Asia/Tokyo"), "KR": ("82", "en", "Asia/Seoul"), "ZA": ("27", "en", "Africa/Johannesburg"),
    "NG": ("234", "en", "Africa/Lagos"),
}  # fmt: skip
