"""Each page of the web app, run with `streamlit.testing.v1.AppTest` through the app's entry point (sign-in,
session key, navigation) against the in-memory fake API of tests/web/fakes.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr
from streamlit.testing.v1 import AppTest

from tests.web.conftest import WEB
from tests.web.fakes import FakeSupportApi, auth_session, case, message
from web_interface import case_view, components, session
from web_interface.api_client import (
    AuditLog,
    AuthError,
    CaseSla,
    CrewFailedError,
    CustomerProfile,
    EndpointMissingError,
    ForbiddenError,
    PagingStatus,
    QueueItem,
    RateLimitedError,
    Role,
    ServiceUnavailableError,
    SlaClock,
    SupportRoute,
)
from web_interface.settings import WebSettings

pytestmark = pytest.mark.usefixtures("web_settings")

CONVERSATIONS = "app_pages/conversations.py"
QUEUES = "app_pages/oncall.py"


def app(role: Role | None = Role.CUSTOMER, page: str | None = None, **query: str) -> AppTest:
    """The whole app as a browser opens it: `role` already signed in (no session key), `query` in the URL."""
    at = AppTest.from_file(str(WEB / "app.py"), default_timeout=20)
    if role is not None:
        at.session_state["auth"] = auth_session(role)
    for name, value in query.items():
        at.query_params[name] = value
    at.run()
    if page is not None:
        at.switch_page(page).run()
    return at


def sign_in(username: str, password: str | None = None, **query: str) -> AppTest:
    """Signed in through the sidebar form, as a person does: with a session key in the URL."""
    at = AppTest.from_file(str(WEB / "app.py"), default_timeout=20)
    for name, value in query.items():
        at.query_params[name] = value
    at.run()
    at.sidebar.text_input(key="sign_in_username").input(username)
    at.sidebar.text_input(key="sign_in_password").input(password or f"{username}-password")
    at.sidebar.button[0].click().run()
    assert not at.exception
    return at


def reload(at: AppTest, **query: str) -> AppTest:
    """What F5 does: a new Streamlit session (empty session state) with the same URL."""
    fresh = AppTest.from_file(str(WEB / "app.py"), default_timeout=20)
    for name, value in {**at.query_params, **query}.items():
        fresh.query_params[name] = value
    return fresh.run()


def texts(at: AppTest) -> str:
    """Everything a person can read on the page, in one string."""
    parts = [
        el.value
        for kind in ("title", "subheader", "markdown", "text", "caption", "info", "warning", "error", "success", "code")
        for el in getattr(at, kind)
    ]
    parts += [m.label for m in at.metric] + [str(m.value) for m in at.metric]
    parts += [e.label for e in at.expander] + [b.label for b in at.button]
    parts += [str(link.proto.label) for link in at.get("page_link")]
    return "\n".join(str(p) for p in parts)


def authors(at: AppTest) -> list[str]:
    """The author line of each chat message, in order ("You", "Support desk", a staff username)."""
    return [m.children[0].value.split("**")[1] for m in at.chat_message if m.children and "**" in m.children[0].value]


def case_buttons(at: AppTest) -> list[str]:
    return [b.label for b in at.button if b.key and b.key.startswith("open_")]


def errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


def guest_mode(web_settings: WebSettings) -> None:
    web_settings.web_client_username = "web"
    web_settings.web_client_password = SecretStr("web-password")


# --- sign-in and the session key -------------------------------------------------------------------------


def test_signing_in_puts_a_session_key_in_the_url_and_a_reload_keeps_it(fake_api: FakeSupportApi) -> None:
    at = sign_in("alice")
    key = at.query_params["s"]
    assert key and key != "token-customer"  # the key is not the API token
    assert "Signed in as" in at.sidebar.success[0].value
    again = reload(at)
    assert not again.exception
    assert again.session_state["auth"].username == "alice"
    assert "Signed in as" in again.sidebar.success[0].value
    assert not again.sidebar.text_input  # no sign-in form
    assert fake_api.names().count("sign_in") == 1


def test_a_deep_link_with_the_key_opens_its_case_after_a_reload(fake_api: FakeSupportApi) -> None:
    at = sign_in("alice")
    again = reload(at, case="case-0002")
    assert not again.exception
    assert again.query_params["case"] == "case-0002"
    assert "Someone took over my account" in texts(again)


def test_a_deep_link_opened_before_signing_in_opens_after_it(fake_api: FakeSupportApi) -> None:
    at = sign_in("alice", case="case-0002")  # /?case=case-0002 from an e-mail, then the sidebar's form
    assert at.query_params["case"] == "case-0002" and at.query_params["s"]
    assert at.markdown[0].value.startswith("#### Someone took over my account")
    article = AppTest.from_file(str(WEB / "app.py"), default_timeout=20)
    article.query_params["id"] = "KB-004"
    article.run()
    article.switch_page("app_pages/article.py").run()  # /article?id=KB-004, signed out
    assert "Please sign in" in article.info[0].value
    article.sidebar.text_input(key="sign_in_username").input("alice")
    article.sidebar.text_input(key="sign_in_password").input("alice-password")
    article.sidebar.button[0].click().run()
    assert article.title[0].value == "Refund timelines and tracking"


def test_sign_out_ends_the_key(fake_api: FakeSupportApi) -> None:
    at = sign_in("alice")
    key = at.query_params["s"]
    at.sidebar.button(key="sign_out").click().run()
    assert at.session_state["auth"] is None
    assert "s" not in at.query_params
    stale = reload(at, s=key)
    assert stale.session_state["auth"] is None
    assert "s" not in stale.query_params
    assert "Your session has ended" in stale.info[0].value


def test_wrong_password_is_a_sentence(fake_api: FakeSupportApi) -> None:
    at = sign_in("alice", "nope")
    assert at.session_state["auth"] is None
    assert at.sidebar.error[0].value == "The username or password is not correct."
    assert "s" not in at.query_params


def test_an_expired_sign_in_signs_the_person_out(fake_api: FakeSupportApi) -> None:
    fake_api.failures["list_cases"] = AuthError()
    at = app(Role.CUSTOMER)
    assert at.session_state["auth"] is None
    assert "sign in again" in errors(at)[0]


# --- conversations ---------------------------------------------------------------------------------------


def test_the_case_list_shows_subject_status_and_last_update(fake_api: FakeSupportApi) -> None:
    fake_api.cases[0] = case(updated_at=datetime.now(UTC) - timedelta(minutes=5), messages=[])
    at = app(Role.CUSTOMER)
    assert not at.exception
    assert at.title[0].value == "Conversations"
    assert fake_api.calls[0] == ("list_cases", {"token": "token-customer", "customer_id": "CUST-1"})
    assert case_buttons(at) == ["Where is my refund?", "Someone took over my account"]  # last update first
    captions = [c.value for c in at.caption]
    assert "Answered · 5 min ago" in captions
    assert any(c.startswith("Escalated · ") for c in captions)
    assert "I want to talk to a person" not in texts(at)  # CUST-2's case


def test_first_message_and_follow_ups_are_written_in_one_chat_box(fake_api: FakeSupportApi) -> None:
    at = sign_in("alice")
    assert at.subheader[0].value == "New conversation"
    at.selectbox(key="new_route").set_value(SupportRoute.BILLING)
    at.chat_input(key="chat_first").set_value("I was charged twice\nInvoice INV-2041").run()
    assert not at.exception
    [submit] = [kwargs for name, kwargs in fake_api.calls if name == "submit"]
    assert submit == {
        "token": "token-customer",
        "message": "I was charged twice\nInvoice INV-2041",
        "route": SupportRoute.BILLING,
        "customer_id": None,
        "emergency": False,
    }
    assert at.query_params["case"] == "case-0004"
    assert authors(at) == ["You", "Support desk"]
    assert at.markdown[0].value.startswith("#### I was charged twice\n")  # the subject
    assert "Refund timelines and tracking" in texts(at)  # the citation's title, a link to the article
    assert "Refunds reach your card 3-5 working days after we issue them." in [t.value for t in at.text]  # excerpt

    at.chat_input(key="chat_follow_up").set_value("Both charges are listed under Payments").run()
    assert ("reply", {"case_id": "case-0004", "text": "Both charges are listed under Payments"}) in fake_api.calls
    assert authors(at) == ["You", "Support desk", "You", "Support desk"]

    at.chat_input(key="chat_follow_up").set_value("I want to talk to a person").run()
    assert ":orange-badge[Waiting for a person]" in texts(at)
    assert "within 4 hours" in [t.value for t in at.text][-1]


def test_staff_replies_carry_the_staff_members_name_and_arrive_on_the_next_refresh(fake_api: FakeSupportApi) -> None:
    at = app(Role.CUSTOMER, case="case-0002")
    assert authors(at) == ["You", "Support desk"]
    fake_api.add_message("case-0002", "staff", "I have locked your account.", author_name="sam")
    at.run()  # what the thread's fragment does on its own every LIVE_REFRESH_SECONDS
    assert authors(at) == ["You", "Support desk", "sam"]
    assert "I have locked your account." in [t.value for t in at.text]


def test_the_open_case_refreshes_itself() -> None:
    # The thread is a fragment Streamlit reruns on a timer (AppTest cannot wait for timers; the browser
    # test watches a staff reply arrive): it must be a fragment, with a short interval.
    assert case_view.LIVE_REFRESH_SECONDS <= 5
    assert "fragment" in repr(case_view.live_thread) or hasattr(case_view.live_thread, "__wrapped__")


def test_unread_marks_a_case_with_a_reply_this_session_has_not_seen(fake_api: FakeSupportApi) -> None:
    at = sign_in("alice", case="case-0001")  # this session shows case-0001's thread
    assert case_buttons(at) == ["Someone took over my account", "Where is my refund?"]
    at.button(key="open_case-0002").click().run()
    assert at.query_params["case"] == "case-0002"
    fake_api.add_message("case-0001", "staff", "Your refund is on its way.", author_name="sam")
    at.run()
    assert "**Where is my refund?**" in case_buttons(at)
    assert any("New" in c.value for c in at.caption)
    at.button(key="open_case-0001").click().run()
    assert "**Where is my refund?**" not in case_buttons(at)  # seen now
    assert not any("New" in c.value for c in at.caption)
    # The session key keeps what was seen across a reload.
    assert not any("New" in c.value for c in reload(at).caption)


def test_a_case_changed_after_the_session_began_is_new_until_opened(fake_api: FakeSupportApi) -> None:
    at = sign_in("alice")
    soon = datetime.now(UTC) + timedelta(minutes=1)
    fake_api.cases[1] = fake_api.cases[1].model_copy(
        update={"messages": [*fake_api.cases[1].messages, message("staff", "Hello", soon, author_name="sam")]}
    )
    fake_api.cases[1] = fake_api._replace(fake_api.cases[1])
    at.run()
    assert "**Someone took over my account**" in case_buttons(at)
    assert "**Where is my refund?**" not in case_buttons(at)


def test_a_resolved_case_takes_no_follow_up(fake_api: FakeSupportApi) -> None:
    fake_api.cases[0] = case(status="resolved")
    at = app(Role.CUSTOMER, case="case-0001")
    assert at.chat_input(key="chat_follow_up").disabled
    assert "start a new conversation" in texts(at)


def test_a_message_that_was_not_sent_says_why_and_keeps_the_text(fake_api: FakeSupportApi) -> None:
    fake_api.failures["submit"] = RateLimitedError(42)
    at = app(Role.CUSTOMER)
    at.chat_input(key="chat_first").set_value("My internet is down").run()
    assert not at.exception
    [shown] = errors(at)
    assert shown.startswith("Your message was not sent.") and "Please try again in 42 seconds." in shown
    assert "{" not in shown and "Traceback" not in shown
    assert at.expander[0].label == "Your message, to copy and send again"
    assert "My internet is down" in [t.value for t in at.text]


def test_when_the_agents_fail_the_saved_case_opens_with_a_sentence(fake_api: FakeSupportApi) -> None:
    fake_api.failures["submit"] = CrewFailedError(case_id="case-0001")
    at = app(Role.CUSTOMER)
    at.chat_input(key="chat_first").set_value("Where is my refund?").run()
    assert not at.exception
    assert at.query_params["case"] == "case-0001"
    assert [w.value for w in at.warning] == [CrewFailedError.default_message]
    assert not at.error


def test_an_integrator_names_the_customer_of_a_new_conversation(fake_api: FakeSupportApi) -> None:
    at = app(Role.INTEGRATOR)
    assert at.title[0].value == "Cases"
    at.chat_input(key="chat_first").set_value("The customer's router blinks red").run()
    assert errors(at) == ["Your message was not sent. Enter the customer ID this request is for."]
    assert "submit" not in fake_api.names()
    at.text_input(key="new_customer_id").input("CUST-77")
    at.chat_input(key="chat_first").set_value("The customer's router blinks red").run()
    [submit] = [kwargs for name, kwargs in fake_api.calls if name == "submit"]
    assert submit["customer_id"] == "CUST-77" and submit["token"] == "token-integrator"
    assert authors(at) == ["Customer", "Support desk"]


def test_new_conversation_button_leaves_the_open_case(fake_api: FakeSupportApi) -> None:
    at = app(Role.CUSTOMER, case="case-0001")
    at.button(key="new_conversation").click().run()
    assert "case" not in at.query_params
    assert at.subheader[0].value == "New conversation"
    at.checkbox(key="new_emergency").check()
    at.chat_input(key="chat_first").set_value("Someone is in my account right now").run()
    assert [kw["emergency"] for name, kw in fake_api.calls if name == "submit"] == [True]


def test_a_case_of_another_customer_is_not_found(fake_api: FakeSupportApi) -> None:
    at = app(Role.CUSTOMER, case="case-0003")
    assert errors(at) == ["That case could not be found."]
    assert "I want to talk to a person" not in texts(at)


def test_page_errors_are_sentences(fake_api: FakeSupportApi) -> None:
    fake_api.failures["list_cases"] = ServiceUnavailableError()
    at = app(Role.CUSTOMER)
    assert errors(at) == [ServiceUnavailableError.default_message]


# --- guests ----------------------------------------------------------------------------------------------


def test_without_the_web_account_guests_are_asked_to_sign_in(fake_api: FakeSupportApi) -> None:
    at = app(None)
    assert "Please sign in" in at.info[0].value
    assert not at.get("chat_input")
    assert fake_api.calls == []


def test_a_guest_gets_a_guest_identity_of_their_own(fake_api: FakeSupportApi, web_settings: WebSettings) -> None:
    guest_mode(web_settings)
    at = app(None)
    assert not at.exception
    guest = at.session_state["guest_id"]
    assert guest.startswith("guest-") and len(guest) > 12
    assert at.query_params["s"]  # kept with a session key
    assert "Customer ID" not in [t.label for t in at.text_input]  # a guest never types a customer ID
    assert ("list_cases", {"token": "token-integrator", "customer_id": guest}) in fake_api.calls
    assert case_buttons(at) == []  # none of CUST-1's cases
    at.chat_input(key="chat_first").set_value("My router blinks red").run()
    [submit] = [kwargs for name, kwargs in fake_api.calls if name == "submit"]
    assert submit["customer_id"] == guest and submit["token"] == "token-integrator"
    assert authors(at) == ["You", "Support desk"]
    assert case_buttons(at) == ["My router blinks red"]
    # The same guest after a reload: same identity, same cases; the service account signed in once.
    again = reload(at)
    assert again.session_state["guest_id"] == guest
    assert case_buttons(again) == ["My router blinks red"]
    assert fake_api.names().count("sign_in") == 1
    # Another browser is another guest.
    other = app(None)
    assert other.session_state["guest_id"] != guest
    assert case_buttons(other) == []


def test_a_guest_cannot_open_a_registered_customers_case(fake_api: FakeSupportApi, web_settings: WebSettings) -> None:
    guest_mode(web_settings)
    at = app(None, case="case-0001")
    assert errors(at) == ["That case could not be found."]
    assert "Where is my refund?" not in texts(at)


def test_a_guest_cannot_open_another_guests_case(fake_api: FakeSupportApi, web_settings: WebSettings) -> None:
    guest_mode(web_settings)
    first = app(None)
    first.chat_input(key="chat_first").set_value("My router blinks red").run()
    theirs = first.query_params["case"]
    # The shared service account may read it; the web app still keeps it to its guest.
    at = app(None, case=theirs)
    assert errors(at) == ["That case could not be found."]
    assert "My router blinks red" not in texts(at)
    assert case_buttons(at) == []


# --- staff -----------------------------------------------------------------------------------------------


def test_the_queues_are_side_by_side_with_time_to_breach(fake_api: FakeSupportApi) -> None:
    at = app(Role.STAFF, page=QUEUES)
    assert not at.exception
    assert at.title[0].value == "Staff queues"
    emergencies, people = (table.value for table in at.dataframe)
    assert list(emergencies["Subject"]) == ["Someone took over my account"]
    assert list(emergencies["Emergency"]) == ["By customer"]
    assert list(people["Subject"]) == ["I want to talk to a person"]
    assert list(people["Customer"]) == ["CUST-2"]
    assert list(people["Respond in"]) == ["3 min"]
    assert "**Emergencies** :gray-badge[1]" in texts(at)
    assert "**Waiting for a person** :gray-badge[1]" in texts(at)


def test_the_queue_says_when_a_response_is_overdue(fake_api: FakeSupportApi) -> None:
    fake_api.queue = [
        QueueItem(case_id="case-0003", status="escalated", priority="high", age_seconds=600, breached=True),
        QueueItem(
            case_id="case-0002",
            status="escalated",
            priority="urgent",
            emergency=True,
            age_seconds=30,
            time_to_breach_seconds=270,
        ),
        QueueItem(case_id="case-0005", status="acknowledged", emergency=True, acknowledged_by="sam"),
    ]
    at = app(Role.STAFF, page=QUEUES)
    emergencies = at.dataframe[0].value
    # The API's order is kept (it sorts by time to breach); the page does not re-sort by priority.
    assert list(emergencies["Respond in"]) == ["Overdue", "4 min", "—"]
    assert list(emergencies["Taken by"]) == ["", "", "sam"]


def test_the_queue_shows_the_sla_clock_nearest_its_deadline(fake_api: FakeSupportApi) -> None:
    clock = SlaClock(clock="resolution", state="running", remaining_seconds=540, near_breach=True)
    fake_api.queue = [
        QueueItem(case_id="case-0007", status="needs_human", kind="needs_human", time_to_breach_seconds=3000, sla=clock)
    ]
    people = app(Role.STAFF, page=QUEUES).dataframe[0].value  # the emergency queue is empty: no table
    assert list(people["Respond in"]) == ["9 min (soon)"]


def test_staff_see_when_paging_is_not_configured(fake_api: FakeSupportApi) -> None:
    at = app(Role.STAFF, page=QUEUES)
    assert [w.value for w in at.warning] == ["Paging is not configured: emergencies wait in this queue."]
    fake_api.paging = PagingStatus(webhook_configured=True)
    assert not app(Role.STAFF, page=QUEUES).warning
    fake_api.failures["paging_status"] = EndpointMissingError()
    assert not app(Role.STAFF, page=QUEUES).warning


def test_staff_reply_acknowledge_resolve_and_hand_back_with_a_note(fake_api: FakeSupportApi) -> None:
    at = app(Role.STAFF, page=QUEUES)
    at.selectbox(key="oncall_pick").set_value("case-0003").run()
    assert ("get_case", {"token": "token-staff", "case_id": "case-0003"}) in fake_api.calls
    assert authors(at) == ["Customer"]
    at.chat_input(key="staff_reply").set_value("Hello, I am Sam from support. What happened?").run()
    assert at.success[0].value == "Your reply was added to the case thread."
    assert authors(at) == ["Customer", "sam"]
    at.button(key="staff_ack").click().run()
    assert "acknowledged" in at.success[0].value
    assert ":violet-badge[Taken by staff]" in texts(at)
    at.text_area(key="staff_handback_note").input("I refunded the duplicate charge.")
    [submit] = [b for b in at.button if b.label == "Hand back to the support desk"]
    submit.click().run()
    assert ("hand_back", {"case_id": "case-0003", "note": "I refunded the duplicate charge."}) in fake_api.calls
    assert "with your note in the thread" in at.success[0].value
    assert authors(at) == ["Customer", "sam", "sam"]
    assert ":blue-badge[Answered]" in texts(at)
    at.button(key="staff_resolve").click().run()
    assert ("set_status", {"case_id": "case-0003", "status": "resolved"}) in fake_api.calls
    assert at.chat_input(key="staff_reply").disabled


def test_a_conflict_is_the_apis_sentence(fake_api: FakeSupportApi) -> None:
    fake_api.cases[1] = fake_api.cases[1].model_copy(update={"status": "resolved"})
    at = app(Role.STAFF, page=QUEUES, case="case-0002")
    at.button(key="staff_ack").click().run()
    assert errors(at) == ["The case is resolved; there is nothing to acknowledge."]


def test_staff_work_a_case_from_the_cases_page_too(fake_api: FakeSupportApi) -> None:
    at = app(Role.STAFF, case="case-0003")
    assert at.title[0].value == "Cases"
    assert "I want to talk to a person" in case_buttons(at)  # every customer's cases
    assert "customer CUST-2" in texts(at)
    at.chat_input(key="staff_reply").set_value("On it.").run()
    assert ("reply", {"case_id": "case-0003", "text": "On it."}) in fake_api.calls
    at.text_input(key="cases_customer_filter").input("CUST-1").run()
    assert ("list_cases", {"token": "token-staff", "customer_id": "CUST-1"}) in fake_api.calls


def test_the_queues_degrade_when_the_endpoints_are_missing(fake_api: FakeSupportApi) -> None:
    fake_api.failures["oncall_queue"] = EndpointMissingError()
    fake_api.failures["acknowledge"] = EndpointMissingError()
    at = app(Role.STAFF, page=QUEUES)
    assert not at.exception
    assert "no staff queues yet" in at.info[0].value
    at.text_input(key="oncall_case_typed").input("case-0002").run()
    at.button(key="staff_ack").click().run()
    assert at.warning[-1].value == "The connected API cannot acknowledge cases yet."
    assert not at.error


def test_the_queues_tell_detected_from_customer_flagged_emergencies(fake_api: FakeSupportApi) -> None:
    fake_api.cases.append(
        case("case-0004", status="escalated", auto_emergency=True, priority="urgent", subject="Outage")
    )
    at = app(Role.STAFF, page=QUEUES)
    emergencies = at.dataframe[0].value
    assert dict(zip(emergencies["Subject"], emergencies["Emergency"], strict=True)) == {
        "Someone took over my account": "By customer",
        "Outage": "Detected",
    }
    at.selectbox(key="oncall_pick").set_value("case-0004").run()
    assert "Emergency (detected)]" in texts(at)
    at.selectbox(key="oncall_pick").set_value("case-0002").run()
    assert "Emergency (flagged by customer)]" in texts(at)


def test_an_oncall_link_opens_its_case_once(fake_api: FakeSupportApi) -> None:
    at = app(Role.STAFF, page=QUEUES, case="case-0002")
    assert not at.exception
    assert ("get_case", {"token": "token-staff", "case_id": "case-0002"}) in fake_api.calls
    assert at.selectbox(key="oncall_pick").value == "case-0002"
    at.selectbox(key="oncall_pick").set_value("case-0003").run()
    assert fake_api.calls[-1] == ("get_case", {"token": "token-staff", "case_id": "case-0003"})


def test_an_oncall_link_survives_signing_in(fake_api: FakeSupportApi) -> None:
    at = AppTest.from_file(str(WEB / "app.py"), default_timeout=20)
    at.query_params["case"] = "case-0002"
    at.run()
    at.switch_page(QUEUES).run()  # the browser opened /oncall?case=case-0002
    assert not at.exception
    assert "for support staff" in at.info[0].value
    assert "get_case" not in fake_api.names()
    at.sidebar.text_input(key="sign_in_username").input("sam")
    at.sidebar.text_input(key="sign_in_password").input("sam-password")
    at.sidebar.button[0].click().run()
    assert not at.exception
    assert at.query_params["case"] == "case-0002"
    assert at.title[0].value == "Staff queues"
    assert "Case `case-0002`" in texts(at)


def test_the_queues_are_not_for_customers(fake_api: FakeSupportApi) -> None:
    at = app(Role.CUSTOMER, case="case-0002")
    assert "Staff queues" not in [t.value for t in at.title]
    assert "oncall_queue" not in fake_api.names()


# --- articles --------------------------------------------------------------------------------------------


def test_a_citation_opens_the_article_with_the_excerpt_from_the_case(fake_api: FakeSupportApi) -> None:
    at = app(Role.CUSTOMER, case="case-0001")
    [link] = at.get("page_link")
    assert link.proto.label == "Refund timelines and tracking"
    assert link.proto.page.endswith("article") or "article" in link.proto.page
    at = app(Role.CUSTOMER, page="app_pages/article.py", id="KB-004", case="case-0001")
    assert not at.exception
    assert at.title[0].value == "Refund timelines and tracking"
    assert "Refunds reach your card 3-5 working days after we issue them." in [t.value for t in at.text]
    body = at.markdown[-1].value
    assert "**3-5 working days**" in body  # our own Markdown is rendered
    assert "[our status page](https://status.example.com)" in body
    assert "javascript:" not in body and "and no." in body  # a non-http(s) link keeps only its text
    assert "Back to the conversation" in texts(at)


def test_an_unknown_article_is_a_sentence(fake_api: FakeSupportApi) -> None:
    at = app(Role.CUSTOMER, page="app_pages/article.py", id="KB-999")
    assert errors(at) == ["That help article could not be found."]


def test_an_article_needs_a_sign_in_or_guest_mode(fake_api: FakeSupportApi, web_settings: WebSettings) -> None:
    at = app(None, page="app_pages/article.py", id="KB-004")
    assert "Please sign in" in at.info[0].value
    guest_mode(web_settings)
    at = app(None, page="app_pages/article.py", id="KB-004")
    assert at.title[0].value == "Refund timelines and tracking"


def test_an_article_does_not_quote_a_case_the_viewer_may_not_see(fake_api: FakeSupportApi) -> None:
    fake_api.cases[2] = case("case-0003", customer_id="CUST-2")
    at = app(Role.CUSTOMER, page="app_pages/article.py", id="KB-004", case="case-0003")
    assert at.title[0].value == "Refund timelines and tracking"
    assert "The part your answer was based on" not in texts(at)


# --- admins ----------------------------------------------------------------------------------------------


def test_admin_pages_are_for_admins(fake_api: FakeSupportApi) -> None:
    staff = app(Role.STAFF)
    assert "accounts" not in fake_api.names()
    for page in ("app_pages/accounts.py", "app_pages/audit.py"):
        at = AppTest.from_file(str(WEB / page), default_timeout=20)
        at.session_state["auth"] = auth_session(Role.STAFF)
        at.run()
        assert "admin" in at.info[0].value
    assert not staff.exception


def test_admins_create_accounts(fake_api: FakeSupportApi) -> None:
    at = app(Role.ADMIN, page="app_pages/accounts.py")
    assert not at.exception
    assert list(at.dataframe[0].value["Username"]) == ["ada", "alice", "sam"]
    at.text_input(key="new_username").input("bob")
    at.selectbox(key="new_role").set_value("customer")
    at.text_input(key="new_customer").input("CUST-9")
    at.text_input(key="new_password").input("a-long-password")
    at.text_input(key="new_password_again").input("another-password")
    [create] = [b for b in at.button if b.label == "Create account"]
    create.click().run()
    assert errors(at) == ["The two passwords differ."]
    at.text_input(key="new_password_again").input("a-long-password")
    [create] = [b for b in at.button if b.label == "Create account"]
    create.click().run()
    assert ("create_account", {"username": "bob", "role": "customer", "customer_id": "CUST-9"}) in fake_api.calls
    assert at.success[0].value == "Account bob (Customer) created."
    assert "bob" in list(at.dataframe[0].value["Username"])


def test_guest_customer_ids_are_kept_for_guests(fake_api: FakeSupportApi) -> None:
    at = app(Role.ADMIN, page="app_pages/accounts.py")
    at.text_input(key="new_username").input("mallory")
    at.text_input(key="new_customer").input("guest-0123")
    at.text_input(key="new_password").input("a-long-password")
    at.text_input(key="new_password_again").input("a-long-password")
    [create] = [b for b in at.button if b.label == "Create account"]
    create.click().run()
    assert "kept for the web app's guests" in errors(at)[0]
    assert "create_account" not in fake_api.names()


def test_admins_disable_and_enable_accounts(fake_api: FakeSupportApi) -> None:
    at = app(Role.ADMIN, page="app_pages/accounts.py")
    assert at.selectbox(key="admin_pick").options == ["alice (active)", "sam (active)"]  # not the admin's own
    at.selectbox(key="admin_pick").set_value("sam").run()
    at.button(key="admin_disable").click().run()
    assert ("set_account_active", {"username": "sam", "active": False}) in fake_api.calls
    assert at.success[0].value == "sam is disabled."
    table = at.dataframe[0].value
    assert dict(zip(table["Username"], table["State"], strict=True))["sam"] == "Disabled"
    at.button(key="admin_enable").click().run()
    assert at.success[0].value == "sam is enabled."


def test_the_audit_log_says_whether_the_chain_holds(fake_api: FakeSupportApi) -> None:
    at = app(Role.ADMIN, page="app_pages/audit.py")
    assert not at.exception
    assert at.success[0].value.startswith("The audit chain holds: 2 entries verified")
    table = at.dataframe[0].value
    assert list(table["Event"]) == ["account_created", "login"]
    assert table["Details"].iloc[0] == '{"x": 1}'
    at.text_input(key="audit_event").input("login").run()
    assert fake_api.calls[-1] == ("audit", {"limit": 100, "event": "login"})
    fake_api.audit_log = AuditLog(
        items=fake_api.audit_log.items, chain_intact=False, first_broken_seq=2, chain_problem="Entry 2 was edited."
    )
    at = app(Role.ADMIN, page="app_pages/audit.py")
    assert errors(at) == ["The audit chain is broken at entry 2. Entries may have been edited or removed."]
    assert "Entry 2 was edited." in [t.value for t in at.text]
    fake_api.audit_log = AuditLog(items=fake_api.audit_log.items)  # an API without `chain_intact`
    at = app(Role.ADMIN, page="app_pages/audit.py")
    assert "does not say whether the audit chain holds" in at.warning[0].value


def test_admins_see_their_pages_in_the_menu(fake_api: FakeSupportApi) -> None:
    at = sign_in("ada")
    assert not at.exception
    at.switch_page("app_pages/audit.py").run()
    assert at.title[0].value == "Audit log"
    at.switch_page("app_pages/accounts.py").run()
    assert at.title[0].value == "Accounts"
    assert at.query_params["s"]  # moving between pages keeps the session key


# --- status ----------------------------------------------------------------------------------------------


def test_status_page_shows_agents_routes_and_refusals(fake_api: FakeSupportApi) -> None:
    at = app(Role.STAFF, page="app_pages/status.py")
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
    assert len(at.get("vega_lite_chart")) == 3  # latency per agent, requests per route, cases by status


def test_status_page_forbidden_is_a_sentence(fake_api: FakeSupportApi) -> None:
    fake_api.failures["status"] = ForbiddenError()
    at = AppTest.from_file(str(WEB / "app_pages" / "status.py"), default_timeout=20)
    at.session_state["auth"] = auth_session(Role.INTEGRATOR)
    at.run()
    assert errors(at) == ["Your account is not allowed to do this."]


# --- one set of labels -----------------------------------------------------------------------------------


def test_every_status_has_one_label_used_on_every_page(fake_api: FakeSupportApi) -> None:
    assert set(components.STATUS_LABELS) >= {
        "open",
        "answered",
        "escalated",
        "needs_human",
        "acknowledged",
        "in_progress",
        "resolved",
        "failed",
    }
    fake_api.cases[0] = case(status="needs_human")
    customer = app(Role.CUSTOMER, case="case-0001")
    assert "Waiting for a person" in [c.value.split(" · ")[0] for c in customer.caption]  # the list
    assert ":orange-badge[Waiting for a person]" in texts(customer)  # the header
    queues = app(Role.STAFF, page=QUEUES)
    assert "**Waiting for a person** :gray-badge[2]" in texts(queues)  # the queue
    assert queues.selectbox(key="oncall_pick").options[-1].startswith("Waiting for a person: ")


def test_session_state_defaults_cover_every_key_the_pages_read() -> None:
    assert {"sid", "auth", "guest_id", "case_id", "oncall_case_id"} <= set(session.DEFAULTS)


def test_staff_see_the_customer_and_the_sla_clocks_beside_the_thread(fake_api: FakeSupportApi) -> None:
    profile = CustomerProfile(id="CUST-2", known=True, name="Ada <b>", tier="premium", plan="business", open_cases=2)
    sla = CaseSla(clocks=[SlaClock(clock="first_response", state="running", remaining_seconds=1800)])
    fake_api.cases = [
        c.model_copy(update={"customer": profile, "sla": sla}) if c.case_id == "case-0003" else c
        for c in fake_api.cases
    ]
    at = app(Role.STAFF, page=QUEUES)
    at.selectbox(key="oncall_pick").set_value("case-0003").run()
    shown = [t.value for t in at.text]
    assert "Ada <b>: tier premium, plan business, 2 other open case(s) · first response: 30 min left" in shown
