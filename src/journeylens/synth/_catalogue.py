"""What the synthetic world is made of: channels, touchpoints, devices, contact topics, names.

Everything here is vocabulary, stored as tuples so that the simulators work on small integer
codes and strings are materialised once per chunk with an Arrow ``take``. The numbers that drive
behaviour (rates, effects, skills) live in :mod:`journeylens.synth._parameters`.
"""

from __future__ import annotations

# Canonical channels written by the generator (a subset of ``store.names.CHANNELS``).
CHANNELS: tuple[str, ...] = (
    "web", "app", "email", "sms", "whatsapp", "social", "chat", "call_center", "store",
)  # fmt: skip
WEB, APP, EMAIL, SMS, WHATSAPP, SOCIAL, CHAT, CALL, STORE = range(len(CHANNELS))

# Raw spellings that source systems really send; ingest must map them back to the canonical name.
CHANNEL_ALIASES: dict[str, str] = {
    "phone": "call_center",
    "Call": "call_center",
    "IVR": "call_center",
    "WhatsApp": "whatsapp",
    "e-mail": "email",
}
CHANNEL_LABELS: tuple[str, ...] = CHANNELS + tuple(CHANNEL_ALIASES)
ALIAS_CODES: dict[str, int] = {alias: len(CHANNELS) + i for i, alias in enumerate(CHANNEL_ALIASES)}

DIRECTIONS: tuple[str, ...] = ("inbound", "outbound")

# Device kinds; the properties fragment is what a tracking SDK would report.
DEVICE_KINDS: tuple[str, ...] = ("desktop", "mobile_web", "ios", "android", "tablet", "kiosk")
DESKTOP, MOBILE_WEB, IOS, ANDROID, TABLET, KIOSK = range(len(DEVICE_KINDS))
DEVICE_CHANNEL: tuple[int, ...] = (WEB, WEB, APP, APP, WEB, STORE)

JOURNEY_TYPES: tuple[str, ...] = ("purchase", "support", "information")
PURCHASE, SUPPORT, INFORMATION = range(len(JOURNEY_TYPES))

SUPPORT_SUBTYPES: tuple[str, ...] = (
    "billing_question", "delivery_problem", "technical_fault", "cancellation",
)  # fmt: skip
BILLING, DELIVERY, TECHNICAL, CANCELLATION = range(len(SUPPORT_SUBTYPES))

# Contact topics (``properties.contact_reason``); the first four mirror the support subtypes.
TOPICS: tuple[str, ...] = ("billing", "delivery", "technical", "cancellation", "payment", "promo")
PAYMENT_TOPIC, PROMO_TOPIC = 4, 5

# Assisted contact routes a customer can choose when self-service did not help.
CONTACT_ROUTES: tuple[str, ...] = ("call", "chat", "whatsapp", "email", "social")
ROUTE_CALL, ROUTE_CHAT, ROUTE_WHATSAPP, ROUTE_EMAIL, ROUTE_SOCIAL = range(len(CONTACT_ROUTES))

_DIGITAL_TOUCHPOINTS = (
    # discovery and purchase funnel (web and app)
    "home", "search", "category_page", "product_page", "product_reviews", "add_to_cart",
    "checkout", "payment", "payment_error", "order_confirmation",
    # information
    "faq", "pricing", "opening_hours", "store_locator", "blog_article", "newsletter_signup",
    "promo_terms",
    # self-service per support subtype
    "billing_faq", "my_invoices", "invoice_download", "billing_settings",
    "track_order", "delivery_faq", "order_status",
    "troubleshooting_guide", "help_article", "service_status", "device_settings",
    "my_account", "cancel_subscription", "retention_offer",
    "contact_form",
)  # fmt: skip
_MESSAGE_TOUCHPOINTS = (
    "promo_newsletter", "email_click", "order_confirmation_email", "cart_reminder",
    "delivery_confirmation", "survey_invite", "support_reply",
    "delivery_update", "ticket_update", "ticket_resolved",
    "social_ad_click", "social_comment", "social_dm", "social_reply",
)  # fmt: skip
_ASSISTED_TOUCHPOINTS = (
    *(f"{topic}_{route}" for topic in TOPICS for route in ("call", "chat", "whatsapp")),
    "ivr_menu",
    "chatbot",
    "callback",
)
_STORE_TOUCHPOINTS = ("store_visit", "kiosk_product_lookup", "kiosk_login", "kiosk_order_status")

TOUCHPOINTS: tuple[str, ...] = (
    _DIGITAL_TOUCHPOINTS + _MESSAGE_TOUCHPOINTS + _ASSISTED_TOUCHPOINTS + _STORE_TOUCHPOINTS
)
_TOUCHPOINT_CODES = {name: code for code, name in enumerate(TOUCHPOINTS)}


def tp(name: str) -> int:
    """Code of a touchpoint name (raises ``KeyError`` for a typo, at import time of the caller)."""
    return _TOUCHPOINT_CODES[name]


def tps(*names: str) -> tuple[int, ...]:
    """Codes of several touchpoint names, in order."""
    return tuple(tp(n) for n in names)


def assisted_touchpoint(topic: int, route: str) -> int:
    """Touchpoint code of an agent-handled contact, e.g. ``billing_call``."""
    return tp(f"{TOPICS[topic]}_{route}")


# Self-service pages per support subtype, for web and for app (billing_faq exists on web only).
SELF_SERVICE_PAGES: dict[int, dict[int, tuple[tuple[str, float], ...]]] = {
    BILLING: {
        WEB: (("billing_faq", 0.45), ("my_invoices", 0.30), ("invoice_download", 0.15),
              ("billing_settings", 0.10)),
        APP: (("my_invoices", 0.55), ("invoice_download", 0.25), ("billing_settings", 0.20)),
    },
    DELIVERY: {
        WEB: (("track_order", 0.55), ("delivery_faq", 0.25), ("order_status", 0.20)),
        APP: (("track_order", 0.65), ("order_status", 0.35)),
    },
    TECHNICAL: {
        WEB: (("troubleshooting_guide", 0.40), ("help_article", 0.35), ("service_status", 0.25)),
        APP: (("troubleshooting_guide", 0.35), ("device_settings", 0.35), ("service_status", 0.30)),
    },
    CANCELLATION: {
        WEB: (("my_account", 0.40), ("cancel_subscription", 0.40), ("retention_offer", 0.20)),
        APP: (("my_account", 0.50), ("cancel_subscription", 0.50)),
    },
}  # fmt: skip

BROWSE_PAGES: dict[int, tuple[tuple[str, float], ...]] = {
    WEB: (("home", 0.15), ("search", 0.20), ("category_page", 0.20), ("product_page", 0.35),
          ("product_reviews", 0.10)),
    APP: (("home", 0.15), ("search", 0.30), ("category_page", 0.10), ("product_page", 0.40),
          ("product_reviews", 0.05)),
}  # fmt: skip

INFORMATION_PAGES: dict[int, tuple[tuple[str, float], ...]] = {
    WEB: (("home", 0.10), ("faq", 0.20), ("pricing", 0.15), ("opening_hours", 0.10),
          ("store_locator", 0.12), ("product_page", 0.15), ("blog_article", 0.10),
          ("newsletter_signup", 0.08)),
    APP: (("home", 0.20), ("faq", 0.25), ("pricing", 0.15), ("store_locator", 0.15),
          ("product_page", 0.25)),
}  # fmt: skip

# Static ``properties`` fragments an event can carry (``extra`` code = index).
EXTRA_FRAGMENTS: tuple[str, ...] = (
    '"campaign":"spring_sale"',
    '"campaign":"loyalty_bonus"',
    '"campaign":"new_collection"',
    '"error_code":"PAY-3DS-TIMEOUT"',
    '"error_code":"PAY-DECLINED"',
    '"carrier":"parcelnet","template":"delivery_update_v3"',
    '"carrier":"swiftpost","template":"delivery_update_sp1"',
    '"survey":"nps_post_purchase"',
    '"survey":"csat_post_contact"',
    '"survey":"ces_self_service"',
    '"utm_source":"social","utm_medium":"paid"',
    '"utm_source":"newsletter","utm_medium":"email"',
)
CAMPAIGNS = (0, 1, 2)
ERROR_CODES = (3, 4)
CARRIER_EXTRA = (5, 6)
CARRIERS: tuple[str, ...] = ("parcelnet", "swiftpost")
SURVEY_EXTRA = {"nps": 7, "csat": 8, "ces": 9}
UTM_SOCIAL, UTM_NEWSLETTER = 10, 11

SEGMENTS: tuple[str, ...] = ("first_time", "loyal", "occasional")
FIRST_TIME, LOYAL, OCCASIONAL = range(len(SEGMENTS))

COUNTRIES: tuple[str, ...] = ("NL", "BE", "DE")
COUNTRY_CALLING_CODES: tuple[str, ...] = ("31", "32", "49")
CITIES: dict[str, tuple[str, ...]] = {
    "NL": ("Amsterdam", "Rotterdam", "Utrecht", "Eindhoven", "Groningen", "Den Haag", "Zwolle"),
    "BE": ("Antwerpen", "Gent", "Brussel", "Leuven"),
    "DE": ("Düsseldorf", "Köln", "Aachen", "Münster"),
}
AGE_BANDS: tuple[str, ...] = ("18-24", "25-34", "35-44", "45-54", "55-64", "65+")
PLANS: tuple[str, ...] = ("basic", "plus", "premium")

FIRST_NAMES: tuple[str, ...] = (
    "anna", "daan", "emma", "sem", "julia", "lucas", "sophie", "milan", "lotte", "thomas",
    "sara", "noah", "lisa", "bram", "eva", "jesse", "fleur", "ruben", "iris", "mohamed",
    "fatima", "yusuf", "nina", "lars", "marie", "tim", "zoe", "jan", "els", "pieter",
)  # fmt: skip
LAST_NAMES: tuple[str, ...] = (
    "devries", "jansen", "bakker", "visser", "smit", "meijer", "mulder", "bos", "vos",
    "peters", "hendriks", "dekker", "dijkstra", "vandijk", "elamrani", "yilmaz", "schmidt",
    "peeters", "maes", "janssens", "wouters", "koster", "prins", "huisman",
)  # fmt: skip
EMAIL_DOMAINS: tuple[str, ...] = (
    "gmail.com", "hotmail.com", "outlook.com", "ziggo.nl", "kpnmail.nl", "icloud.com",
    "telenet.be", "gmx.de", "yahoo.com", "live.nl",
)  # fmt: skip

SOURCES: tuple[str, ...] = ("crm", "web_signup", "call_center", "newsletter", "email_click")

# Pages that need a logged-in customer: visiting one ties the device to the user_id.
LOGIN_PAGES: tuple[str, ...] = (
    "checkout", "payment", "my_invoices", "invoice_download", "billing_settings", "order_status",
    "my_account", "cancel_subscription",
)  # fmt: skip

THEMES: tuple[str, ...] = ("billing", "delivery", "usability", "product_quality", "confusing_marketing")
THEME_BILLING, THEME_DELIVERY, THEME_USABILITY, THEME_QUALITY, THEME_MARKETING = range(len(THEMES))
FEEDBACK_METRICS: tuple[str, ...] = ("nps", "csat", "ces")
NPS, CSAT, CES = range(len(FEEDBACK_METRICS))
OUTCOMES: tuple[str, ...] = ("converted", "abandoned", "resolved", "unresolved", "informed")
CONVERTED, ABANDONED, RESOLVED, UNRESOLVED, INFORMED = range(len(OUTCOMES))

# Feedback comments: opener + body (by tone and theme) + optional repeat / agent sentences.
# ``None`` openers make some comments start straight with the substance.
TONES: tuple[str, ...] = ("negative", "neutral", "positive")
NEGATIVE, NEUTRAL, POSITIVE = range(len(TONES))
COMMENT_OPENERS: tuple[tuple[str | None, ...], ...] = (
    ("Very disappointed.", "Not happy at all.", "Honestly, this was frustrating.", None, "Poor experience."),
    ("It was okay.", "Fine, nothing special.", None, "Average.", "Mixed feelings."),
    ("Great service!", "Very happy.", "Excellent.", None, "Thanks a lot!"),
)  # fmt: skip
COMMENT_BODIES: tuple[tuple[tuple[str, ...], ...], ...] = (
    (  # negative
        ("My invoice was wrong and nobody could explain the extra charges.",
         "The billing FAQ did not answer my question, so I had to call.",
         "I was charged twice this month.",
         "The invoice is confusing and the amounts do not match my plan."),
        ("My parcel was late and the tracking did not work.",
         "The delivery SMS had no tracking link and the package did not show up.",
         "Delivery took far longer than promised.",
         "The parcel was delivered to the wrong address."),
        ("The app kept giving a payment error at checkout.",
         "The website is confusing and I could not find what I needed.",
         "Payment failed several times in the app.",
         "Too many steps, the app is hard to use."),
        ("The product stopped working after a week.",
         "Quality is not what I expected for this price.",
         "The device keeps disconnecting.",
         "It broke almost immediately, very poor quality."),
        ("The promotion in the e-mail was misleading, the discount did not apply.",
         "The newsletter offer conditions were unclear.",
         "The ad promised a price I could not get.",
         "Confusing marketing, the offer was not what it seemed."),
    ),
    (  # neutral
        ("My billing question was answered eventually.",
         "The invoice explanation took a while but it is clear now.",
         "Billing was sorted, though it took some effort.",
         "The invoice details could be clearer."),
        ("Delivery was a day later than expected.",
         "The parcel arrived, tracking could be better.",
         "Delivery was fine, communication could improve.",
         "The package came, but the time slot was vague."),
        ("The app works, but checkout could be simpler.",
         "The website is usable but a bit cluttered.",
         "It took a few tries to find the right page.",
         "The process works, nothing more."),
        ("The product is as expected.",
         "Decent quality for the price.",
         "The product does the job.",
         "Quality is acceptable."),
        ("The offer was a bit unclear at first.",
         "The promo conditions took some reading.",
         "The newsletter was okay, the offer so-so.",
         "I was not sure what the promotion included."),
    ),
    (  # positive
        ("My question about the invoice was answered right away.",
         "The refund for the double charge arrived quickly.",
         "Billing was explained clearly.",
         "The invoice issue was fixed in one go."),
        ("Fast delivery and clear tracking.",
         "The parcel arrived a day early.",
         "Delivery was quick and the updates were helpful.",
         "Smooth delivery, right on time."),
        ("Checkout in the app was quick and easy.",
         "Easy to find what I needed on the website.",
         "Everything worked smoothly.",
         "Very easy to use."),
        ("Great product, works perfectly.",
         "Excellent quality.",
         "Really happy with the product.",
         "The product is even better than expected."),
        ("The offer was clear and worth it.",
         "Nice promotion, it applied without problems.",
         "Good deal from the newsletter.",
         "The promo was easy to use."),
    ),
)  # fmt: skip
REPEAT_SENTENCES: tuple[str, ...] = (
    "I had to contact you several times.",
    "Third time I had to explain my problem.",
    "Nobody called me back as promised.",
)
AGENT_SENTENCES: tuple[tuple[str, ...], ...] = (
    ("The agent could not help me.", "The person on the phone had no idea.", "The employee was not helpful."),
    (),
    ("The agent was friendly and knew exactly what to do.", "The employee on the phone was very helpful.",
     "Kind and competent agent."),
)  # fmt: skip
