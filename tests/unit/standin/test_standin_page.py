"""The hosted Checkout page that a session's ``url`` points to, and its Pay button."""

from __future__ import annotations

import stripe

from .conftest import WEBHOOK_SECRET, Harness


def test_the_checkout_page_shows_the_packs_and_the_total(harness: Harness) -> None:
    session = harness.new_session()

    status, headers, raw = harness.http("GET", session.url.removeprefix(harness.standin.url))

    page = raw.decode()
    assert status == 200
    assert headers["Content-Type"].startswith("text/html")
    assert "100 tokens" in page
    assert "1k tokens" in page
    assert '<th class="n" id="total">29.99 USD</th>' in page
    assert f'action="/checkout/{session.id}/pay"' in page


def test_paying_completes_the_session_sends_the_webhook_and_redirects(harness: Harness) -> None:
    session = harness.new_session()

    status, headers, _ = harness.http("POST", f"/checkout/{session.id}/pay", b"")

    assert status == 303
    assert headers["Location"] == f"https://tollgate.example/paid?session={session.id}"
    paid = harness.client.v1.checkout.sessions.retrieve(session.id)
    assert (paid.status, paid.payment_status) == ("complete", "paid")
    [delivery] = harness.receiver.received
    event = stripe.Webhook.construct_event(delivery.body, delivery.headers["Stripe-Signature"], WEBHOOK_SECRET)
    assert (event.type, event.data.object.id) == ("checkout.session.completed", session.id)
    again, _, _ = harness.http("POST", f"/checkout/{session.id}/pay", b"")
    assert again == 409
    _, _, after = harness.http("GET", f"/checkout/{session.id}")
    assert b"Checkout paid" in after
    assert len(harness.receiver.received) == 1


def test_without_a_success_url_paying_shows_a_paid_page(harness: Harness) -> None:
    session = harness.new_session(success_url=None, cancel_url=None)

    status, _, raw = harness.http("POST", f"/checkout/{session.id}/pay", b"")

    assert status == 200
    assert b"Checkout paid" in raw


def test_an_unknown_session_page_is_404(harness: Harness) -> None:
    assert harness.http("GET", "/checkout/cs_test_nope")[0] == 404
    assert harness.http("POST", "/checkout/cs_test_nope/pay", b"")[0] == 404
