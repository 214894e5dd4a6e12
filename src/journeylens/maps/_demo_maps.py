"""The designed maps the demo writes into its workspace's ``maps/`` folder: a purchase and a support
journey of the synthetic world, as a CX team would design them (its touchpoints are those of
:mod:`journeylens.synth._catalogue`; time targets and emotions are the team's, not the data's)."""

from __future__ import annotations

from pathlib import Path

SCHEMA_LINE = "# yaml-language-server: $schema=https://journeylens.dev/schemas/map.schema.json\n"

PURCHASE = """\
# The designed purchase journey: what we want customers to do and feel, and how long it may take.
journey_type: purchase
goal: Find the right product and buy it online without needing help
owner: E-commerce lead
version: 1
stages:
  - name: discover
    description: The customer arrives from a search, a campaign or the home page.
    touchpoints: [home, search, category_page, social_ad_click, email_click, promo_newsletter]
    customer_goal: See what is on offer
    intent: Find a relevant product in a few clicks
    expected_emotion: 1
    time_target: {duration: 30m, percentile: p80}
    owner: Marketing
    pain_points: [Campaign landing pages do not match the ad]
  - name: consider
    touchpoints: [product_page, product_reviews]
    customer_goal: Be sure the product fits
    intent: Trust the product page and reviews enough to decide
    expected_emotion: 1
    time_target: {duration: 2h}
    owner: Product content
    pain_points: [Sizes and specifications are hard to compare]
  - name: cart
    touchpoints: [add_to_cart, cart_reminder]
    customer_goal: Keep the choice
    intent: Move on to checkout without doubts about price or delivery
    expected_emotion: 0
    time_target: {duration: 1h}
    owner: E-commerce
    kpis:
      - {metric: conversion, min: 0.6, note: Most carts should turn into orders}
  - name: checkout
    touchpoints: [checkout, payment]
    customer_goal: Pay quickly and safely
    intent: Pay in one go, on any device
    expected_emotion: -1
    time_target: {duration: 15m, percentile: p80}
    owner: Payments
    pain_points: [Payment errors in the app, Unclear delivery costs]
    kpis:
      - {metric: conversion, min: 0.8}
  - name: order
    touchpoints: [order_confirmation, order_confirmation_email]
    customer_goal: Know the order is placed
    intent: Feel confident and looked after
    expected_emotion: 2
    time_target: {duration: 1d, percentile: p50}
    owner: E-commerce
  - name: delivery
    required: false
    touchpoints: [delivery_update, delivery_confirmation]
    customer_goal: Receive it when promised
    intent: Never have to ask where the parcel is
    expected_emotion: 1
    time_target: {duration: 3d}
    owner: Logistics
    pain_points: [Some carriers deliver late]
unplanned:
  - name: payment error
    touchpoints: [payment_error]
    note: A failed payment; the customer retries, calls or leaves
  - name: call about a payment
    touchpoints: [payment_call]
rules:
  - {rule: response, first: checkout, then: order_confirmation, within: 2h}
  - {rule: precedence, first: add_to_cart, then: checkout}
costs:
  lost_conversion: 45
"""

_ASSISTED = ", ".join(
    f"{topic}_{route}"
    for topic in ("billing", "delivery", "technical", "cancellation")
    for route in ("call", "chat", "whatsapp")
)

SUPPORT = f"""\
# The designed support journey: solve it alone first, and get one good answer when that fails.
journey_type: support
goal: Get my problem solved at the first attempt
owner: Head of customer service
version: 1
stages:
  - name: self-service
    description: Help pages, the account and order status.
    touchpoints: [billing_faq, my_invoices, invoice_download, billing_settings, track_order,
                  delivery_faq, order_status, troubleshooting_guide, help_article, service_status,
                  device_settings, my_account, cancel_subscription, retention_offer]
    customer_goal: Find the answer myself
    intent: Solve it online without contacting us
    expected_emotion: 0
    time_target: {{duration: 1h}}
    owner: Digital self-service
    pain_points: [Invoice explanations are hard to find]
  - name: reach us
    required: false
    touchpoints: [ivr_menu, chatbot, contact_form, social_dm]
    customer_goal: Reach the right person
    intent: Be routed once, to someone who can help
    expected_emotion: -1
    time_target: {{duration: 30m}}
    owner: Contact centre routing
    pain_points: [The IVR menu has too many options]
  - name: assisted contact
    required: false
    touchpoints: [{_ASSISTED}, callback, support_reply, social_reply]
    customer_goal: Get a clear answer
    intent: Resolve it in this one contact
    expected_emotion: 0
    time_target: {{duration: 1d, percentile: p80}}
    owner: Contact centre
    pain_points: [Customers repeat their story after a transfer]
    kpis:
      - {{metric: resolution, min: 0.7}}
  - name: follow-up
    required: false
    touchpoints: [ticket_update]
    customer_goal: Know where my case stands
    intent: Stay informed without chasing us
    expected_emotion: 0
    time_target: {{duration: 2d}}
    owner: Case management
  - name: resolved
    touchpoints: [ticket_resolved]
    customer_goal: Have it fixed for good
    intent: Feel taken seriously
    expected_emotion: 1
    owner: Head of customer service
unplanned:
  - name: survey
    touchpoints: [survey_invite]
rules:
  - {{rule: existence, activity: resolved}}
"""

DEMO_MAPS = {"purchase": PURCHASE, "support": SUPPORT}
"""File name (without .yaml) -> the map's YAML."""


def write_demo_maps(root: Path) -> list[Path]:
    """Write the demo maps into ``root/maps`` (the workspace's map folder) and return their paths."""
    folder = root / "maps"
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in DEMO_MAPS.items():
        path = folder / f"{name}.yaml"
        path.write_text(SCHEMA_LINE + text, encoding="utf-8")
        paths.append(path)
    return paths
