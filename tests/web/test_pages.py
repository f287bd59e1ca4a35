"""Each page of the web interface, run with `streamlit.testing.v1.AppTest` against a fake API client."""

from __future__ import annotations

import pytest
from pydantic import SecretStr
from streamlit.testing.v1 import AppTest

from tests.web.conftest import WEB
from tests.web.fakes import FakeSupportApi, answer, auth_session, case
from web_interface.api_client import (
    AuthError,
    EndpointMissingError,
    InputRejectedError,
    RateLimitedError,
    Role,
    ServiceUnavailableError,
    SupportRoute,
)
from web_interface.settings import WebSettings

pytestmark = pytest.mark.usefixtures("web_settings")


def page(name: str, role: Role | None = Role.CUSTOMER) -> AppTest:
    at = AppTest.from_file(str(WEB / "app_pages" / f"{name}.py"), default_timeout=20)
    if role is not None:
        at.session_state["auth"] = auth_session(role)
    return at.run()


def texts(at: AppTest) -> str:
    """Everything a person can read on the page, in one string."""
    parts = [
        el.value
        for kind in ("markdown", "text", "caption", "info", "warning", "error", "success", "code")
        for el in getattr(at, kind)
    ]
    parts += [m.label for m in at.metric] + [str(m.value) for m in at.metric]
    parts += [e.label for e in at.expander]
    return "\n".join(str(p) for p in parts)


def errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


# --- Ask for help ----------------------------------------------------------------------------------------


def test_customer_form_has_the_fields_of_the_design(fake_api: FakeSupportApi, web_settings: WebSettings) -> None:
    at = page("ask")
    assert not at.exception
    assert [t.label for t in at.text_input] == []  # a signed-in customer writes as itself
    assert "CUST-1" in texts(at)
    assert at.selectbox(key="ask_route").options == [
        "Auto-detect",
        "Billing",
        "Technical",
        "Escalation",
        "Complex (several issues)",
    ]
    assert at.text_area(key="ask_message").max_chars == web_settings.max_message_length
    assert at.checkbox(key="ask_emergency").label == "This is an emergency"
    assert "on-call person is alerted" in texts(at)
    at.button(key="ask_submit").click().run()
    assert "describe your problem first" in at.info[0].value
    assert not fake_api.calls


def test_character_count_follows_the_description(fake_api: FakeSupportApi) -> None:
    at = page("ask")
    assert "Up to 500 characters" in texts(at)
    at.text_area(key="ask_message").input("My invoice is wrong").run()
    assert "19 of 500 characters used." in texts(at)


def test_submit_shows_the_answer_card(fake_api: FakeSupportApi) -> None:
    at = page("ask")
    at.selectbox(key="ask_route").set_value(SupportRoute.BILLING)
    at.text_area(key="ask_message").input("Where is my refund?")
    at.button(key="ask_submit").click().run()
    assert not at.exception
    [call] = [kwargs for name, kwargs in fake_api.calls if name == "submit"]
    assert call == {
        "token": "token-customer",
        "message": "Where is my refund?",
        "route": SupportRoute.BILLING,
        "customer_id": None,
        "emergency": False,
    }
    shown = texts(at)
    assert "Your refund was issued" in shown
    assert "Billing specialist" in shown and "blue-badge[Medium]" in shown
    assert at.code[0].value == "case-0001"  # st.code: the copy button comes with it
    assert [e.label for e in at.expander] == ["Refund timelines"]
    assert not at.info and not at.warning  # neither degraded nor escalated


def test_the_same_request_is_not_sent_twice(fake_api: FakeSupportApi) -> None:
    at = page("ask")
    at.text_area(key="ask_message").input("Where is my refund?")
    at.button(key="ask_submit").click().run()
    at.button(key="ask_submit").click().run()
    assert fake_api.names().count("submit") == 1
    assert "already sent this request" in texts(at)


def test_button_is_disabled_while_a_request_is_pending(fake_api: FakeSupportApi) -> None:
    at = AppTest.from_file(str(WEB / "app_pages" / "ask.py"), default_timeout=20)
    at.session_state["auth"] = auth_session()
    # A request already on its way (the rerun after the click): the form must be drawn disabled.
    fake_api.failures["submit"] = ServiceUnavailableError()
    at.session_state["pending"] = {"message": "x", "route": "auto", "customer_id": None, "emergency": False}
    at.run()
    assert fake_api.names().count("submit") == 1
    # After the failure the form comes back enabled with the reason as a sentence.
    assert errors(at) == [ServiceUnavailableError.default_message]
    assert not at.text_area(key="ask_message").disabled


def test_emergency_answer_shows_the_escalation_notice(fake_api: FakeSupportApi) -> None:
    fake_api.next_answer = answer(agent_type="escalation", status="escalated", priority="urgent", citations=[])
    at = page("ask")
    at.text_area(key="ask_message").input("Someone took over my account and is spending money")
    at.checkbox(key="ask_emergency").check()
    at.button(key="ask_submit").click().run()
    assert fake_api.calls[-1][1]["emergency"] is True
    assert "has been alerted" in at.info[0].value
    assert "red-badge[Urgent]" in texts(at)


def test_degraded_answer_is_flagged(fake_api: FakeSupportApi) -> None:
    fake_api.next_answer = answer(degraded=True)
    at = page("ask")
    at.text_area(key="ask_message").input("Where is my refund?")
    at.button(key="ask_submit").click().run()
    assert "reduced mode" in at.warning[0].value


@pytest.mark.parametrize(
    ("failure", "sentence"),
    [
        (RateLimitedError(42), "Please try again in 42 seconds."),
        (
            InputRejectedError("message", "it is empty after removing markup"),
            "The description was not accepted: it is empty after removing markup.",
        ),
        (InputRejectedError("context", None), "The additional context was not accepted."),
        (ServiceUnavailableError(), "The support service is unavailable right now."),
    ],
)
def test_api_errors_are_plain_sentences(fake_api: FakeSupportApi, failure: Exception, sentence: str) -> None:
    fake_api.failures["submit"] = failure  # type: ignore[assignment]
    at = page("ask")
    at.text_area(key="ask_message").input("Where is my refund?")
    at.button(key="ask_submit").click().run()
    assert not at.exception
    [shown] = errors(at)
    assert sentence in shown
    assert "{" not in shown and "Traceback" not in shown
    assert at.text_area(key="ask_message").value == "Where is my refund?"  # nothing typed is lost


def test_expired_sign_in_signs_the_person_out(fake_api: FakeSupportApi) -> None:
    fake_api.failures["submit"] = AuthError()
    at = page("ask")
    at.text_area(key="ask_message").input("Where is my refund?")
    at.button(key="ask_submit").click().run()
    assert at.session_state["auth"] is None
    assert "sign in again" in errors(at)[0]


def test_guests_need_the_web_account(fake_api: FakeSupportApi) -> None:
    at = page("ask", role=None)
    assert "Please sign in" in at.info[0].value
    assert not at.text_area


def test_guest_acts_for_the_customer_id_entered(fake_api: FakeSupportApi, web_settings: WebSettings) -> None:
    web_settings.web_client_username = "web"
    web_settings.web_client_password = SecretStr("web-password")
    at = page("ask", role=None)
    at.text_area(key="ask_message").input("My internet is down")
    at.button(key="ask_submit").click().run()
    assert "enter the customer ID" in at.info[0].value
    at.text_input(key="ask_customer_id").input("CUST-77")
    at.text_area(key="ask_message").input("My internet is down")
    at.button(key="ask_submit").click().run()
    assert not at.exception
    assert fake_api.calls[0] == ("sign_in", {"username": "web"})
    submit = fake_api.calls[1][1]
    assert submit["customer_id"] == "CUST-77" and submit["token"] == "token-integrator"
    assert at.session_state["auth"] is None  # the guest is still a guest
    assert at.code[0].value == "case-0001"


# --- Sign-in (the app's sidebar) -------------------------------------------------------------------------


def test_sign_in_keeps_the_token_in_the_session(fake_api: FakeSupportApi) -> None:
    at = AppTest.from_file(str(WEB / "app.py"), default_timeout=20).run()
    assert not at.exception
    at.sidebar.text_input(key="sign_in_username").input("alice")
    at.sidebar.text_input(key="sign_in_password").input("alice-password")
    at.sidebar.button[0].click().run()
    assert not at.exception
    assert at.session_state["auth"].access_token == "token-customer"
    assert "Signed in as" in at.sidebar.success[0].value


def test_wrong_password_is_a_sentence(fake_api: FakeSupportApi) -> None:
    at = AppTest.from_file(str(WEB / "app.py"), default_timeout=20).run()
    at.sidebar.text_input(key="sign_in_username").input("alice")
    at.sidebar.text_input(key="sign_in_password").input("nope")
    at.sidebar.button[0].click().run()
    assert at.session_state["auth"] is None
    assert at.sidebar.error[0].value == "The username or password is not correct."


def test_sign_out_forgets_the_token(fake_api: FakeSupportApi) -> None:
    at = AppTest.from_file(str(WEB / "app.py"), default_timeout=20)
    at.session_state["auth"] = auth_session()
    at.run()
    at.sidebar.button(key="sign_out").click().run()
    assert at.session_state["auth"] is None


# --- My cases --------------------------------------------------------------------------------------------


def test_my_cases_lists_the_customers_cases_and_a_thread(fake_api: FakeSupportApi) -> None:
    at = page("my_cases")
    assert not at.exception
    assert at.title[0].value == "My cases"
    assert fake_api.calls[0] == ("list_cases", {"token": "token-customer", "customer_id": "CUST-1"})
    table = at.dataframe[0].value
    assert list(table["Case"]) == ["case-0001", "case-0002"]
    assert list(table["Status"]) == ["Answered", "Escalated"]
    assert [m.avatar for m in at.chat_message] == ["user", "assistant"]
    at.selectbox(key="case_id").set_value("case-0002").run()
    assert fake_api.calls[-1] == ("get_case", {"token": "token-customer", "case_id": "case-0002"})


def test_customer_adds_a_follow_up_to_a_case(fake_api: FakeSupportApi) -> None:
    at = page("my_cases")
    at.text_area[0].input("The refund has still not arrived.")
    at.button[-1].click().run()
    assert not at.exception
    assert ("reply", {"case_id": "case-0001", "text": "The refund has still not arrived."}) in fake_api.calls
    assert at.success[0].value == "Your message was added to the case."


def test_my_cases_error_is_a_sentence(fake_api: FakeSupportApi) -> None:
    fake_api.failures["list_cases"] = ServiceUnavailableError()
    at = page("my_cases")
    assert errors(at) == [ServiceUnavailableError.default_message]


# --- Status ----------------------------------------------------------------------------------------------


def test_status_page_shows_agents_routes_and_refusals(fake_api: FakeSupportApi) -> None:
    at = page("status", role=Role.STAFF)
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Requests"] == "21"
    assert metrics["Degraded answers"] == "3"
    assert metrics["Rate-limited (last hour)"] == "4"
    assert metrics["Auth failures (last hour)"] == "5"
    agents = at.dataframe[0].value
    assert list(agents["Agent"]) == ["Billing specialist", "Technical specialist"]
    assert list(agents["Interactions"]) == [12, 7]
    assert list(agents["Last active"])[1] == "never"
    assert len(at.get("vega_lite_chart")) == 2  # latency per agent, requests per route


def test_status_page_forbidden_is_a_sentence(fake_api: FakeSupportApi) -> None:
    from web_interface.api_client import ForbiddenError

    fake_api.failures["status"] = ForbiddenError()
    at = page("status", role=Role.INTEGRATOR)
    assert errors(at) == ["Your account is not allowed to do this."]


# --- On-call ---------------------------------------------------------------------------------------------


def test_oncall_is_for_staff_only(fake_api: FakeSupportApi) -> None:
    at = page("oncall", role=Role.CUSTOMER)
    assert "for support staff" in at.info[0].value
    assert "oncall_queue" not in fake_api.names()


def test_oncall_queue_puts_emergencies_first(fake_api: FakeSupportApi) -> None:
    at = page("oncall", role=Role.STAFF)
    assert not at.exception
    queue = at.dataframe[0].value
    assert list(queue["Case"]) == ["case-0002", "case-0003"]
    assert list(queue["Age"]) == ["30 s", "10 min"]
    assert list(queue["Emergency"]) == ["By customer", ""]
    assert list(queue["Respond in"]) == ["4 min", "Overdue"]


def test_oncall_open_reply_and_change_status(fake_api: FakeSupportApi) -> None:
    at = page("oncall", role=Role.STAFF)
    at.selectbox(key="oncall_pick").set_value("case-0002").run()
    assert ("get_case", {"token": "token-staff", "case_id": "case-0002"}) in fake_api.calls
    assert len(at.chat_message) == 2
    at.button(key="oncall_ack").click().run()
    assert "acknowledged" in at.success[0].value
    at.button(key="oncall_resolve").click().run()
    assert ("set_status", {"case_id": "case-0002", "status": "resolved"}) in fake_api.calls
    at.text_area[0].input("We have locked the account; a colleague will call you.")
    at.button[-1].click().run()
    assert ("reply", {"case_id": "case-0002", "text": "We have locked the account; a colleague will call you."}) in (
        fake_api.calls
    )
    assert "added to the case thread" in at.success[0].value


def test_oncall_degrades_when_the_endpoints_are_missing(fake_api: FakeSupportApi) -> None:
    fake_api.failures["oncall_queue"] = EndpointMissingError()
    fake_api.failures["acknowledge"] = EndpointMissingError()
    at = page("oncall", role=Role.STAFF)
    assert not at.exception
    assert "no on-call queue yet" in at.info[0].value
    at.text_input(key="oncall_case_typed").input("case-0002").run()
    at.button(key="oncall_ack").click().run()
    assert at.warning[0].value == "The connected API cannot acknowledge cases yet."
    assert not at.error


def test_oncall_tells_detected_from_customer_flagged_emergencies(fake_api: FakeSupportApi) -> None:
    fake_api.queue[0] = fake_api.queue[0].model_copy(update={"auto_emergency": True, "priority": "urgent"})
    fake_api.cases.append(case("case-0003", status="escalated", auto_emergency=True, priority="urgent"))
    at = page("oncall", role=Role.STAFF)
    queue = at.dataframe[0].value
    assert dict(zip(queue["Case"], queue["Emergency"], strict=True)) == {
        "case-0002": "By customer",
        "case-0003": "Detected",
    }
    at.selectbox(key="oncall_pick").set_value("case-0003").run()
    assert "Emergency (detected)]" in texts(at)
    at.selectbox(key="oncall_pick").set_value("case-0002").run()
    assert "Emergency (flagged by customer)]" in texts(at)


def test_oncall_link_opens_its_case(fake_api: FakeSupportApi) -> None:
    at = AppTest.from_file(str(WEB / "app_pages" / "oncall.py"), default_timeout=20)
    at.session_state["auth"] = auth_session(Role.STAFF)
    at.query_params["case"] = "case-0002"
    at.run()
    assert not at.exception
    assert ("get_case", {"token": "token-staff", "case_id": "case-0002"}) in fake_api.calls
    assert "Emergency (flagged by customer)]" in texts(at)
    assert at.selectbox(key="oncall_pick").value == "case-0002"
    # Once opened, the link no longer decides: the person may open another case with the same URL.
    at.selectbox(key="oncall_pick").set_value("case-0003").run()
    assert fake_api.calls[-1] == ("get_case", {"token": "token-staff", "case_id": "case-0003"})


def test_oncall_link_survives_signing_in(fake_api: FakeSupportApi) -> None:
    at = AppTest.from_file(str(WEB / "app.py"), default_timeout=20)
    at.query_params["case"] = "case-0002"
    at.run()
    at.switch_page("app_pages/oncall.py").run()  # the browser opened /oncall?case=case-0002
    assert not at.exception
    assert "for support staff" in at.info[0].value
    assert "get_case" not in fake_api.names()
    at.sidebar.text_input(key="sign_in_username").input("sam")
    at.sidebar.text_input(key="sign_in_password").input("sam-password")
    at.sidebar.button[0].click().run()
    assert not at.exception
    assert at.query_params["case"] == "case-0002"
    assert at.title[0].value == "On-call"
    assert ("get_case", {"token": "token-staff", "case_id": "case-0002"}) in fake_api.calls
    assert "Case `case-0002`" in texts(at)


def test_oncall_link_is_not_for_customers(fake_api: FakeSupportApi) -> None:
    at = AppTest.from_file(str(WEB / "app.py"), default_timeout=20)
    at.session_state["auth"] = auth_session(Role.CUSTOMER)
    at.query_params["case"] = "case-0002"
    at.run()
    assert not at.exception
    assert "On-call" not in [t.value for t in at.title]
    assert "get_case" not in fake_api.names()
