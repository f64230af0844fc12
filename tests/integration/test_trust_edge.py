"""A second trust pass over real HTTP (issue 20): non-JSON bodies are a 415 that changes nothing, policies
are bounded (CEL cost, linear globs), aged-out cursors, actions on absent projects, counted limits under
concurrency, malformed Stripe events and e-mail addresses. Each test failed before its fix."""

from __future__ import annotations

import pytest

from tests.integration.conftest import Stack, http

pytestmark = pytest.mark.integration

DENY_ALL_FORM = '--b\r\nContent-Disposition: form-data; name="default_effect"\r\n\r\ndeny\r\n--b--\r\n'


def test_a_multipart_or_form_policy_is_415_and_the_policy_stays(stack: Stack) -> None:
    _, owner = stack.signup()
    put = stack.call("PUT", "/v1/policy", {"default_effect": "deny", "rules": []}, key=owner, If_Match='"0"')
    assert put.status == 200, put.body
    auth = {"Authorization": f"Bearer {owner}", "If-Match": '"1"'}
    for content_type, body in [
        ("multipart/form-data; boundary=b", DENY_ALL_FORM.replace("deny", "allow")),
        ("multipart/form-data; boundary=b", ""),
        ("application/x-www-form-urlencoded", "default_effect=allow"),
        ("text/plain", '{"default_effect": "allow", "rules": []}'),
    ]:
        headers = {**auth, "Content-Type": content_type}
        answer = http("PUT", stack.api + "/v1/policy", raw=body.encode(), headers=headers)
        assert answer.status == 415, (content_type, answer.body)
        assert answer.body["error"]["code"] == "UNSUPPORTED_MEDIA_TYPE"
    policy = stack.call("GET", "/v1/policy", key=owner)
    assert (policy.body["policy"]["version"], policy.body["policy"]["default_effect"]) == (1, "deny")


def test_a_multipart_project_patch_is_415_and_the_project_stays(stack: Stack) -> None:
    _, owner = stack.signup()
    project = stack.call("POST", "/v1/projects", {"name": "farm", "budget": 10}, key=owner).body["project"]
    form = '--b\r\nContent-Disposition: form-data; name="name"\r\n\r\nrenamed\r\n--b--\r\n'
    headers = {"Authorization": f"Bearer {owner}", "Content-Type": "multipart/form-data; boundary=b"}
    answer = http("PATCH", f"{stack.api}/v1/projects/{project['id']}", raw=form.encode(), headers=headers)
    assert answer.status == 415, answer.body
    listed = stack.call("GET", "/v1/projects", key=owner).body
    assert [p["name"] for p in listed["projects"]] == ["farm"]


DIGITS = "[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]"
FIVE_DEEP = f"{DIGITS}.all(a, {DIGITS}.all(b, {DIGITS}.all(c, {DIGITS}.all(d, {DIGITS}.all(e, a + e >= 0)))))"


@pytest.mark.parametrize("condition", [FIVE_DEEP, f"tokens > 1000 ? {FIVE_DEEP} : true"])
def test_a_costly_condition_is_refused_at_put_and_the_policy_stays(stack: Stack, condition: str) -> None:
    _, owner = stack.signup()
    rule = {"id": "costly", "effect": "deny", "condition": condition}
    answer = stack.call("PUT", "/v1/policy", {"rules": [rule]}, key=owner, If_Match='"0"')
    assert answer.status == 422, answer.body
    assert answer.body["error"]["field"] == "rules.0.condition"
    assert "would cost about" in answer.body["error"]["message"]
    assert stack.call("GET", "/v1/policy", key=owner).body["policy"]["version"] == 0
