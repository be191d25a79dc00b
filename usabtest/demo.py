"""`usabtest demo`: load one realistic study and a user per role, idempotently."""

from __future__ import annotations

import io
import random
import uuid
from datetime import date, datetime, timedelta

import click
import sqlalchemy as sa

from usabtest import builders
from usabtest.accounts import services
from usabtest.accounts.models import Role, User
from usabtest.db import utcnow
from usabtest.extensions import db
from usabtest.observe.models import Note, NoteKind, Outcome
from usabtest.planning.models import (
    SessionStatus,
    Study,
    StudyMethod,
    StudySession,
    StudyStatus,
)

DEMO_USERS = [
    ("admin@example.com", "Avery Admin", Role.ADMIN, "demo-admin-pass"),
    ("researcher@example.com", "Riley Researcher", Role.RESEARCHER, "demo-researcher-pass"),
    ("observer@example.com", "Olive Observer", Role.OBSERVER, "demo-observer-pass"),
    ("client@example.com", "Casey Client", Role.CLIENT, "demo-client-pass"),
]
CLIENT_NAME = "Northwind Savings Bank"
STUDY_TITLE = "Mobile banking app: payments and savings"

TASKS = [
    ("Check the balance", "You have just been paid. Find out how much money is in your current "
     "account.", "Reads the current account balance aloud.", 120),
    ("Pay a friend", "You owe Sam 25 pounds for concert tickets. Send Sam the money.",
     "A 25.00 transfer to Sam is confirmed.", 300),
    ("Set up a bill payment", "Your electricity bill of 64.20 is due on the 28th. Arrange to "
     "pay it on that day.", "A scheduled payment of 64.20 on the 28th exists.", 420),
    ("Open a savings pot", "You want to save for a holiday. Create a savings pot called "
     "'Holiday' with a goal of 800.", "A pot named Holiday with goal 800 exists.", 300),
    ("Freeze a lost card", "You cannot find your debit card. Make sure nobody can use it.",
     "The card shows as frozen.", 180),
    ("Download a statement", "Your landlord asks for last month's statement. Get it as a PDF.",
     "The statement PDF is downloaded.", 240),
]
PEOPLE = [
    ("Amara Okafor", "18-24", "Daily app user"), ("Ben Carter", "25-34", "Weekly app user"),
    ("Chloé Martin", "35-44", "Daily app user"), ("Dev Patel", "45-54", "Rarely uses apps"),
    ("Elena Rossi", "55-64", "Weekly app user"), ("Farid Haddad", "25-34", "Daily app user"),
    ("Grace Lee", "65+", "Rarely uses apps"), ("Henrik Nilsson", "35-44", "Weekly app user"),
]
# (task position the note belongs to, tag, severity, text); two per task and session.
NOTE_LINES = [
    (0, "positive", None, "Found the balance immediately on the home screen."),
    (0, "problem", 1, "Asked which of 'available' and 'current' balance is the real one."),
    (0, "quote", None, "I like that it shows the balance before I log in."),
    (1, "problem", 3, "Looked for 'Pay' under the account card, not in the bottom bar."),
    (1, "quote", None, "I'd expect the payee list to remember Sam."),
    (1, "bug", 3, "Confirm button hidden behind the keyboard on the small phone."),
    (2, "problem", 2, "Date picker: tried to type the date, the field only accepts taps."),
    (2, "idea", None, "Offer 'pay on due date' straight from the bill reminder."),
    (2, "bug", 3, "Confirm button hidden behind the keyboard after typing the amount."),
    (3, "quote", None, "Pots? I thought that was about cooking."),
    (3, "positive", None, "Liked the round-up suggestion when creating the pot."),
    (3, "problem", 1, "Goal amount field rejects the currency sign."),
    (4, "problem", 4, "Could not find how to freeze the card; would have called the helpline."),
    (4, "problem", 3, "Tried a long press on the card image to find card settings."),
    (5, "problem", 2, "Statement download opens in-app viewer with no obvious share button."),
    (5, "quote", None, "Will my landlord accept this as an official statement?"),
]


def demo_sign_in(role: Role) -> tuple[str, str]:
    """The email and password of the demo account with this role."""
    email, _name, _role, password = next(user for user in DEMO_USERS if user[2] == role)
    return email, password


@click.command("demo")
def demo_command() -> None:
    """Load demo data (once) and print the demo sign-ins."""
    created = load_demo()
    db.session.commit()
    click.echo("Demo data loaded." if created else "Demo data already present.")
    click.echo("Demo sign-ins (email / password):")
    for email, _name, role, password in DEMO_USERS:
        click.echo(f"  {role.value:<11} {email:<26} {password}")


def load_demo(now: datetime | None = None) -> bool:
    """Create the demo users and study unless present; True when something was created."""
    if db.session.scalar(sa.select(Study).where(Study.title == STUDY_TITLE)) is not None:
        return False
    now = now or utcnow()
    users = _demo_users()
    study = _demo_study(users)
    _demo_sessions(study, users, now, random.Random(20261122))
    db.session.flush()
    _demo_findings(study)
    return True


def _demo_users() -> dict[Role, User]:
    org = services.get_or_create_organisation(CLIENT_NAME)
    users = {}
    for email, name, role, password in DEMO_USERS:
        user = services.find_user_by_email(email) or builders.make_user(
            role, email=email, name=name, password=password,
            organisation=org if role == Role.CLIENT else None,
        )
        users[role] = user
    users[Role.RESEARCHER].timezone = "Europe/London"
    users[Role.OBSERVER].timezone = "Europe/London"
    return users


REPORT_TEXTS = {
    "executive_summary": "Customers completed everyday payments, but **freezing a card** and setting up "
    "**bill payments** caused serious trouble.\n\nWe recommend, in this order:\n\n"
    "1. Put *Freeze card* on the card screen itself.\n2. Remember recent payees.\n"
    "3. Explain savings pots where they are created.",
    "product_description": "Northwind Mobile 4.2, the retail bank's app for iOS and Android: payments, "
    "cards, bills and savings pots for personal customers.",
    "test_objectives": "- Find what stops customers paying people and bills on their own.\n"
    "- Learn whether savings pots are understood without help.",
    "participant_selection": "Current Northwind customers who use the app at least once a week, recruited "
    "from the bank's research panel and screened by phone; each received a £40 voucher.",
    "environment_facility": "Northwind's usability lab in Leeds, with an observation room behind a mirror.",
    "environment_devices": "iPhone 13 mini and Pixel 7 on the bank's test network.",
    "environment_software": "Northwind Mobile 4.2 (build 4210) on iOS 17 and Android 14.",
    "procedure": "After consent, the moderator read each scenario aloud and asked participants to think "
    "aloud. The moderator helped only when a participant was stuck for two minutes. Each session lasted "
    "about an hour and ended with the SUS questionnaire.",
    "participant_instructions": "We are testing the app, not you. Please say what you are looking for and "
    "what you expect as you go; there are no wrong answers.",
    "administrator_tools": "usabtest for the task script, timing and notes; Lookback for screen and audio "
    "recording.",
    "contact_details": "Riley Researcher, UX research, Northwind Savings Bank: "
    "[researcher@example.com](mailto:researcher@example.com)",
    "next_steps": "1. **This sprint**: move *Freeze card* onto the card screen and keep Confirm above the "
    "keyboard (findings 1 and 2).\n2. **Next release**: a Pay action on the account card, typed bill dates "
    "and the new wording for pots.\n3. **In six weeks**: test the freeze and bill tasks again with five "
    "new participants, including two who rarely use apps.\n\nRiley Researcher shares the clips of each "
    "finding with the design team at the read-out on Friday.",
}


def _demo_study(users: dict[Role, User]) -> Study:
    study = builders.make_study(
        users[Role.RESEARCHER],
        organisation=users[Role.CLIENT].organisation,
        title=STUDY_TITLE,
        product="Northwind Mobile 4.2 (iOS and Android)",
        goals="Find what stops customers paying people and bills on their own, and whether "
        "savings pots are understood without help.",
        method=StudyMethod.IN_PERSON,
        status=StudyStatus.ACTIVE,
        welcome_text="Thank you for helping us today. We are testing the app, not you.",
    )
    builders.make_report_texts(study, **REPORT_TEXTS)
    builders.make_tag(study, "navigation", description="Finding the way between screens.",
                      colour="#1f618d", shortcut="Shift+1")
    builders.make_tag(study, "terminology", description="Words the participant did not understand.",
                      colour="#a04000", shortcut="Shift+2")
    for title, scenario, criteria, limit in TASKS:
        builders.make_task(study, title, scenario=scenario, success_criteria=criteria,
                           time_limit_s=limit)
    for number, (name, age_band, experience) in enumerate(PEOPLE, start=1):
        builders.make_participant(
            study, name=name, email=f"{name.split()[0].lower()}@example.net",
            phone=f"+44 7700 900{number:03d}",
            segments={"age band": age_band, "experience": experience},
            consented_on=date(2026, 11, 2), form_version="v2.1",
        )
    return study


def _demo_sessions(study: Study, users: dict[Role, User], now: datetime, rng: random.Random):
    moderator, observer = users[Role.RESEARCHER], users[Role.OBSERVER]
    day0 = (now - timedelta(days=6)).replace(hour=9, minute=0, second=0, microsecond=0)
    for index, participant in enumerate(study.participants):
        done = index < 5
        starts = day0 + timedelta(days=index // 2, hours=(index % 2) * 3)
        if not done:
            starts = (now + timedelta(days=index - 3)).replace(hour=10, minute=0, second=0,
                                                                microsecond=0)
        study_session = builders.make_session(
            study, participant, moderator, [observer], starts, timezone="Europe/London",
            duration_min=60, location="Lab 2, 14 Market Street",
        )
        if done:
            _complete(study_session, study, observer, rng)


def _complete(study_session: StudySession, study: Study, observer: User, rng: random.Random):
    study_session.status = SessionStatus.COMPLETED
    study_session.started_at = study_session.starts_at + timedelta(minutes=2)
    clock = study_session.started_at + timedelta(minutes=3)
    for task in study.tasks:
        seconds = rng.randint(40, task.time_limit_s or 300)
        outcome = rng.choices(list(Outcome)[:3], weights=[6, 2, 2])[0]
        errors = rng.randint(0, 3)
        builders.make_task_attempt(
            study_session, task, started_at=clock, seconds=seconds, outcome=outcome,
            # Nobody counted errors on the statement task: the report shows them as not recorded.
            error_count=None if task.title == UNCOUNTED_TASK else errors, seq=rng.randint(2, 7),
        )
        lines = [line for line in NOTE_LINES if line[0] == task.position]
        for _position, tag, severity, body in rng.sample(lines, 2):
            at = clock + timedelta(seconds=rng.randint(5, seconds))
            builders.make_note(
                study_session, observer, body, client_uuid=uuid.UUID(int=rng.getrandbits(128)),
                task=task, tags=[tag], severity=severity, created_at=at,
                kind=NoteKind.QUOTE if tag == "quote" else NoteKind.POSITIVE if tag == "positive"
                else NoteKind.OBSERVATION,
                elapsed_ms=int((at - study_session.started_at).total_seconds() * 1000),
            )
        clock += timedelta(seconds=seconds + 30)
    study_session.ended_at = clock + timedelta(minutes=5)
    builders.make_sus_response(study_session, [rng.randint(3, 5) if i % 2 == 0 else rng.randint(1, 3)
                                               for i in range(10)])


UNCOUNTED_TASK = "Download a statement"
# (title, severity, text the evidence notes contain, description, recommendation, priority, effort);
# the last two are things that worked well.
DEMO_FINDINGS = [
    ("Card freeze is hard to find", 4, "Could not find how to freeze",
     "Participants looked under Settings and Help, not on the card itself; one gave up and "
     "would have phoned the helpline.",
     "Put 'Freeze card' on the card's own screen and make it findable through search.", "high", "small"),
    ("Payment confirmation hidden by the keyboard", 3, "Confirm button hidden behind the keyboard",
     "On small phones the keyboard covers the Confirm button after the amount is typed.",
     "Dismiss the keyboard on Done and keep the primary action above it.", "high", "small"),
    ("Pay is expected on the account card", 3, "Looked for 'Pay'",
     "Participants looked for paying someone from the account card rather than the bottom bar.",
     "Add a Pay action to the account card, next to the balance.", "medium", "medium"),
    ("Bill dates cannot be typed", 2, "Date picker",
     "The date field accepts only taps; participants who typed a date thought it was broken.",
     "Accept typed dates and show the expected format.", "medium", "small"),
    ("'Pots' is unfamiliar wording", 2, "Pots?",
     "Several participants did not connect 'pots' with saving.",
     "Call them 'Savings pots' and explain them on first use.", "low", "small"),
]
DEMO_STRENGTHS = [
    ("The balance is visible at a glance", ("Found the balance", "shows the balance"),
     "Participants read the balance from the home screen without searching, and liked seeing it before "
     "signing in.", "Keep the balance on the home screen in the redesign."),
    ("Round-up suggestion welcomed", ("round-up suggestion",),
     "Creating a pot, participants noticed and liked the round-up suggestion.",
     "Offer the round-up in other places where customers save."),
]
SCREENSHOT_CAPTION = "The card screen: Freeze sits three levels down, under Settings → Card controls."


def _demo_findings(study: Study) -> None:
    """Findings backed by the demo notes whose text they quote."""
    notes = db.session.scalars(
        sa.select(Note).join(StudySession).where(StudySession.study_id == study.id)
    ).all()
    for title, severity, quote, description, recommendation, priority, effort in DEMO_FINDINGS:
        evidence = [note for note in notes if quote in note.body]
        shots = [builders.make_screenshot(_card_screen(), width=360, height=640, filename="card-screen.png",
                                          caption=SCREENSHOT_CAPTION)] if severity == 4 else []
        builders.make_finding(
            study, title, severity=severity, description=description,
            recommendation=recommendation, notes=evidence, priority=priority, effort=effort,
            tasks=sorted({note.task for note in evidence if note.task}, key=lambda t: t.position),
            screenshots=shots,
        )
    for title, phrases, description, recommendation in DEMO_STRENGTHS:
        evidence = [note for note in notes if any(phrase in note.body for phrase in phrases)]
        builders.make_finding(
            study, title, severity=0, description=description, recommendation=recommendation,
            notes=evidence, positive=True,
            tasks=sorted({note.task for note in evidence if note.task}, key=lambda t: t.position),
        )


def _card_screen() -> bytes:
    """A plain drawing of the app's card screen, standing in for a real screenshot."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (360, 640), "#f4f6f8")
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, 360, 56), fill="#1f4e6b")
    draw.text((16, 20), "Cards", fill="white")
    draw.rounded_rectangle((24, 80, 336, 270), radius=14, fill="#2f6f94")
    draw.text((44, 110), "Northwind Debit", fill="white")
    draw.text((44, 220), "**** 4821", fill="white")
    for row, label in enumerate(("Show PIN", "Statements", "Settings")):
        top = 300 + row * 64
        draw.rectangle((24, top, 336, top + 52), fill="white", outline="#c9d3dc")
        draw.text((40, top + 20), label, fill="#1b2631")
    draw.rectangle((0, 584, 360, 640), fill="white", outline="#c9d3dc")
    for column, label in enumerate(("Home", "Pay", "Cards", "More")):
        draw.text((24 + column * 88, 606), label, fill="#1b2631")
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()
