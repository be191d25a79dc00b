"""Study teams: who works on a study, in which role, and who owns it. Operations flush, never commit.

Researchers on the team plan and analyse the study; observers on it read the study and join its
sessions. The owner is one of the researchers and, with admins, manages the team. Who may *do*
these things is the policy's business; the rules here keep the team itself sound: one owner who
is always a researcher on it, no client users, no deactivated accounts, nobody twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from usabtest.accounts.models import Role, User
from usabtest.accounts.services import find_user_by_email
from usabtest.core.audit import record
from usabtest.core.errors import Conflict, InvalidInput
from usabtest.extensions import db
from usabtest.planning import invitations
from usabtest.planning.models import SessionStatus, Study, StudyMember, StudySession, TeamRole

# Accounts that may hold each team role: observer accounts only observe, whatever the team says.
ACCOUNTS_FOR = {
    TeamRole.RESEARCHER: (Role.ADMIN, Role.RESEARCHER),
    TeamRole.OBSERVER: (Role.ADMIN, Role.RESEARCHER, Role.OBSERVER),
}
# Sessions that have not ended: a member leaving the team is taken off these.
UNFINISHED = (SessionStatus.SCHEDULED, SessionStatus.IN_PROGRESS)


class TeamError(InvalidInput):
    """A team change that breaks a rule (422), naming the field at fault."""


class TeamConflict(Conflict):
    """A team change that clashes with the team as it is (409): a duplicate, or the owner's place."""


def _sort_key(member: StudyMember) -> tuple:
    return (not member.is_owner, member.role != TeamRole.RESEARCHER, member.user.name.casefold(),
            member.user_id)


def members(study: Study) -> list[StudyMember]:
    """The team: the owner first, then researchers, then observers, each by name."""
    return sorted(study.members, key=_sort_key)


def find_person(*, user_id: int | None = None, email: str | None = None) -> User:
    """The account named by id or e-mail address; refused with a message when there is none."""
    if user_id is not None:
        user = db.session.get(User, user_id)
        if user is None:
            raise TeamError(f"There is no user {user_id}.", "user_id")
        return user
    address = (email or "").strip()
    if not address:
        raise TeamError("Give the e-mail address of the person to add.", "email")
    user = find_user_by_email(address)
    if user is None:
        raise TeamError(f"Nobody has an account with the e-mail address {address}: an admin creates "
                        "accounts on the Users page.", "email")
    return user


def candidates(study: Study) -> list[User]:
    """Active accounts that could join the team and are not on it yet (to suggest on the page)."""
    on_team = {m.user_id for m in study.members}
    query = (db.select(User).where(User.active.is_(True), User.role != Role.CLIENT)
             .order_by(User.name, User.id))
    return [u for u in db.session.scalars(query) if u.id not in on_team]


def _check_account(user: User, role: TeamRole, person_field: str) -> None:
    if user.role == Role.CLIENT:
        raise TeamError(f"{user.name} is a client user: client users see their organisation's published "
                        "reports in the client portal and cannot join a study team.", person_field)
    if not user.active:
        raise TeamError(f"{user.name}'s account is deactivated: an admin must reactivate it before they "
                        "can join a study team.", person_field)
    if user.role not in ACCOUNTS_FOR[role]:
        raise TeamError(f"{user.name} has an {user.role.label.lower()} account: they can join the team as "
                        "an observer only.", "role")


def add_member(study: Study, user: User, role: TeamRole | str, actor: User, *,
               person_field: str = "user_id") -> StudyMember:
    """Put `user` on the study's team as a researcher or an observer."""
    role = TeamRole(role)
    existing = study.member(user)
    if existing is not None:
        place = "its owner" if existing.is_owner else existing.role.label.lower()
        raise TeamConflict(f"{user.name} is already on this study's team, as {place}.", person_field)
    _check_account(user, role, person_field)
    member = StudyMember(user=user, role=role)
    study.members.append(member)
    db.session.flush()
    record(actor, "team.add", study, {"user": user.id, "role": role.value})
    return member


def change_role(study: Study, member: StudyMember, role: TeamRole | str, actor: User) -> None:
    """Make a member a researcher or an observer; the owner stays a researcher."""
    role = TeamRole(role)
    if role == member.role:
        return
    if member.is_owner:
        raise TeamConflict(f"{member.user.name} owns this study, and the owner is always a researcher: "
                           "hand ownership to another researcher first.", "role")
    if member.user.role not in ACCOUNTS_FOR[role]:
        raise TeamError(f"{member.user.name} has an {member.user.role.label.lower()} account: they can be "
                        "on the team as an observer only.", "role")
    old = member.role
    member.role = role
    record(actor, "team.role", study, {"user": member.user_id, "from": old.value, "to": role.value})


@dataclass
class Removal:
    """What taking a member off the team does (shown before it happens, reported after)."""

    member: StudyMember
    taken_off: list[StudySession] = field(default_factory=list)  # unfinished sessions they observe
    moderating: list[StudySession] = field(default_factory=list)  # unfinished sessions they moderate
    past: int = 0  # finished sessions they took part in: their place and notes stay

    @property
    def refusal(self) -> str | None:
        """Why the member cannot be removed now, or None."""
        name = self.member.user.name
        if self.member.is_owner:
            return (f"{name} owns this study: hand ownership to another researcher before removing "
                    "them from the team.")
        if self.moderating:
            listed = ", ".join(f"#{s.id} ({s.participant.code})" for s in self.moderating)
            return (f"{name} moderates {_count(len(self.moderating), 'session')} that "
                    f"{'has' if len(self.moderating) == 1 else 'have'} not ended ({listed}): "
                    "give them another moderator or cancel them first.")
        return None

    @property
    def consequences(self) -> list[str]:
        """Sentences saying what will happen (or happened) to the member's access and sessions."""
        name = self.member.user.name
        said = [f"{name} will no longer see this study, its sessions or its consoles."]
        if self.taken_off:
            said.append(f"{name} will be taken off {_count(len(self.taken_off), 'session')} that "
                        f"{'has' if len(self.taken_off) == 1 else 'have'} not ended, and told by e-mail "
                        "when mail is set up.")
        if self.past:
            said.append(f"{name} stays listed on {_count(self.past, 'past session')}, and every note "
                        f"{name} took stays in the study.")
        return said


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def removal_of(study: Study, member: StudyMember) -> Removal:
    """What removing `member` would do, without doing it."""
    removal = Removal(member)
    for study_session in study.sessions:
        moderates = study_session.moderator_id == member.user_id
        observes = any(u.id == member.user_id for u in study_session.observers)
        if not (moderates or observes):
            continue
        if study_session.status not in UNFINISHED:
            removal.past += 1
        elif moderates:
            removal.moderating.append(study_session)
        else:
            removal.taken_off.append(study_session)
    return removal


def remove_member(study: Study, member: StudyMember, actor: User) -> Removal:
    """Take a member off the team and off the sessions that have not ended; past records stay."""
    removal = removal_of(study, member)
    if removal.refusal:
        raise TeamConflict(removal.refusal, "user_id")
    user = member.user
    for study_session in removal.taken_off:
        study_session.observers.remove(user)
        if study_session.status == SessionStatus.SCHEDULED:
            study_session.ics_sequence += 1
    study.members.remove(member)
    db.session.flush()
    record(actor, "team.remove", study,
           {"user": user.id, "sessions": [s.id for s in removal.taken_off]})
    for study_session in removal.taken_off:
        if study_session.status == SessionStatus.SCHEDULED:
            invitations.send_invitations(study_session, "removed", only=[user])
    return removal


def hand_over(study: Study, new_owner: User, actor: User) -> None:
    """Make another researcher on the team the owner; the old owner stays on it as a researcher."""
    name = new_owner.name
    if new_owner.id == study.owner_id:
        raise TeamConflict(f"{name} already owns this study.", "user_id")
    if new_owner.role not in ACCOUNTS_FOR[TeamRole.RESEARCHER]:
        raise TeamError(f"{name} has {'a' if new_owner.role != Role.OBSERVER else 'an'} "
                        f"{new_owner.role.label.lower()} account: only a researcher can own a study.",
                        "user_id")
    if not new_owner.active:
        raise TeamError(f"{name}'s account is deactivated: only an active researcher can own a study.",
                        "user_id")
    member = study.member(new_owner)
    if member is None:
        raise TeamError(f"{name} is not on this study's team: add them as a researcher first.", "user_id")
    if member.role != TeamRole.RESEARCHER:
        raise TeamError(f"{name} is on the team as an observer: make them a researcher first.", "user_id")
    old_owner = study.owner
    if study.member(old_owner) is None:  # a team predating the owner's membership
        study.members.append(StudyMember(user=old_owner, role=TeamRole.RESEARCHER))
    study.owner = new_owner
    db.session.flush()
    record(actor, "team.hand_over", study, {"from": old_owner.id, "to": new_owner.id})


def session_people(study: Study) -> list[User]:
    """Who can moderate or observe the study's sessions: active members of its team, by name."""
    people = [m.user for m in study.members if m.user.active and m.user.role != Role.CLIENT]
    return sorted(people, key=lambda u: (u.name.casefold(), u.id))
