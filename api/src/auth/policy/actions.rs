//! Actions: who may do what. Each rule answers the refusal the client gets:
//! `UNAUTHENTICATED` without a token, `FORBIDDEN` with a token of the wrong kind.
//!
//! | action | who |
//! |---|---|
//! | programme administration (rounds, matching, associations, ambassadors, librarians) | admins |
//! | a librarian's own writes (profile, consent) | the librarian |
//! | erasure, a decision on a membership | the librarian themself, admins |
//! | an association's members, syncs and webhooks | the association itself, admins |
//! | applying, withdrawing | the librarian, their association (if an active, confirmed member), admins |
//! | reporting engagement | a member of the pairing |
//! | round reports (`roundStats`) | admins; a country's ambassadors; the association itself |
//! | the change feed | any token |

use crate::auth::Viewer;
use crate::error::{ApiError, ApiResult};

/// Admins only.
///
/// # Errors
/// `UNAUTHENTICATED` without a token, `FORBIDDEN` for other roles.
pub fn admin(viewer: &Viewer) -> ApiResult<()> {
    match viewer {
        Viewer::Admin { .. } => Ok(()),
        Viewer::Anonymous => Err(ApiError::Unauthenticated("this needs an admin token".into())),
        _ => Err(ApiError::Forbidden("only admins may do this".into())),
    }
}

/// A librarian acting for themself: their id.
///
/// # Errors
/// `UNAUTHENTICATED` without a token, `FORBIDDEN` for other roles.
pub fn librarian(viewer: &Viewer) -> ApiResult<i32> {
    match viewer {
        Viewer::Librarian { librarian_id, .. } => Ok(*librarian_id),
        Viewer::Anonymous => Err(ApiError::Unauthenticated("this needs a librarian token".into())),
        _ => Err(ApiError::Forbidden("only a librarian may do this, for themself".into())),
    }
}

/// Any token; `needs` says for what (`"the change feed needs a token"`).
///
/// # Errors
/// `UNAUTHENTICATED` without a token.
pub fn signed_in(viewer: &Viewer, needs: &str) -> ApiResult<()> {
    match viewer {
        Viewer::Anonymous => Err(ApiError::Unauthenticated(needs.to_owned())),
        _ => Ok(()),
    }
}

/// The librarian `librarian_id` themself, or an admin; `what` is the action, for the
/// refusal (`"erase"`).
///
/// # Errors
/// `UNAUTHENTICATED` without a token, `FORBIDDEN` for anyone else.
pub fn librarian_or_admin(viewer: &Viewer, librarian_id: i32, what: &str) -> ApiResult<()> {
    match viewer {
        Viewer::Admin { .. } => Ok(()),
        Viewer::Librarian { librarian_id: me, .. } if *me == librarian_id => Ok(()),
        Viewer::Anonymous => Err(ApiError::Unauthenticated("this needs a token".into())),
        _ => Err(ApiError::Forbidden(format!("only the librarian themself or an admin may {what}"))),
    }
}

/// Erasure's and a membership decision's rule when the librarian is known only later:
/// `None` for an admin (any librarian), the librarian's own id for a librarian.
///
/// # Errors
/// `UNAUTHENTICATED` without a token, `FORBIDDEN` for other roles.
pub fn self_or_admin(viewer: &Viewer, what: &str) -> ApiResult<Option<i32>> {
    match viewer {
        Viewer::Admin { .. } => Ok(None),
        Viewer::Librarian { librarian_id, .. } => Ok(Some(*librarian_id)),
        Viewer::Anonymous => Err(ApiError::Unauthenticated("this needs a token".into())),
        _ => Err(ApiError::Forbidden(format!("only the librarian themself or an admin may {what}"))),
    }
}

/// The roles that manage some association's memberships: associations and admins (which
/// memberships, [`manages_association`] says).
///
/// # Errors
/// `UNAUTHENTICATED` without a token, `FORBIDDEN` for other roles.
pub fn manages_memberships(viewer: &Viewer) -> ApiResult<()> {
    match viewer {
        Viewer::Admin { .. } | Viewer::Association { .. } => Ok(()),
        Viewer::Anonymous => Err(ApiError::Unauthenticated("this needs a token".into())),
        _ => Err(ApiError::Forbidden("only the association or an admin may change a membership".into())),
    }
}

/// Whether the viewer manages the association `association_id`: the association itself,
/// or an admin.
pub fn manages_association(viewer: &Viewer, association_id: i32) -> bool {
    match viewer {
        Viewer::Admin { .. } => true,
        Viewer::Association { association_id: own, .. } => *own == association_id,
        _ => false,
    }
}

/// What an association's members, syncs and webhooks need: the association itself or an
/// admin. `what` names the action (`"sync its members"`), `needs` the missing token
/// (`"syncing members needs a token"`).
///
/// # Errors
/// `UNAUTHENTICATED` without a token, `FORBIDDEN` for anyone else.
pub fn association_or_admin(viewer: &Viewer, association_id: i32, what: &str, needs: &str) -> ApiResult<()> {
    if manages_association(viewer, association_id) {
        return Ok(());
    }
    match viewer {
        Viewer::Anonymous => Err(ApiError::Unauthenticated(needs.to_owned())),
        _ => Err(ApiError::Forbidden(format!("only the association itself or an admin may {what}"))),
    }
}

/// Who may apply or withdraw for a librarian.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActFor {
    /// The librarian themself, or an admin.
    Allowed,
    /// An association: only if the librarian is its active, confirmed member (which the
    /// caller looks up).
    IfMemberOf(i32),
}

/// Who the viewer may apply or withdraw for `librarian_id`.
///
/// # Errors
/// `UNAUTHENTICATED` without a token, `FORBIDDEN` for other librarians and ambassadors.
pub fn act_for(viewer: &Viewer, librarian_id: i32) -> ApiResult<ActFor> {
    match viewer {
        Viewer::Admin { .. } => Ok(ActFor::Allowed),
        Viewer::Librarian { librarian_id: me, .. } if *me == librarian_id => Ok(ActFor::Allowed),
        Viewer::Association { association_id, .. } => Ok(ActFor::IfMemberOf(*association_id)),
        Viewer::Anonymous => Err(ApiError::Unauthenticated("this needs a token".into())),
        _ => Err(ApiError::Forbidden("only the librarian, their association or an admin may do this".into())),
    }
}

/// Whether an association may act for a member, given the librarian's membership of it
/// (`None` when there is none): only for an active member who confirmed the link.
///
/// # Errors
/// `FORBIDDEN` for anyone else.
pub fn act_for_member(membership: Option<&entities::membership::Model>) -> ApiResult<()> {
    use crate::domain::{MembershipConsent, MembershipStatus};
    match membership {
        Some(m)
            if m.status == MembershipStatus::Active.as_str() && m.consent == MembershipConsent::Confirmed.as_str() =>
        {
            Ok(())
        }
        _ => Err(ApiError::Forbidden("an association may act only for its active members".into())),
    }
}

/// Who applies to a round: the librarian named, or else the calling librarian themself
/// (whether the caller may apply for them, [`act_for`] says).
///
/// # Errors
/// `UNAUTHENTICATED` without a token and without a name; `BAD_USER_INPUT` when an admin or
/// an association names no librarian.
pub fn applicant(viewer: &Viewer, named: Option<i32>) -> ApiResult<i32> {
    match (named, viewer) {
        (Some(id), _) => Ok(id),
        (None, Viewer::Librarian { librarian_id, .. }) => Ok(*librarian_id),
        (None, Viewer::Anonymous) => Err(ApiError::Unauthenticated("this needs a token".into())),
        (None, _) => Err(ApiError::bad_input("librarianId", "name the librarian who applies")),
    }
}

/// Engagement reports: only a member of the pairing (`members`) reports on it.
///
/// # Errors
/// `FORBIDDEN` for anyone else.
pub fn report_engagement(librarian_id: i32, members: &[i32]) -> ApiResult<()> {
    if members.contains(&librarian_id) {
        Ok(())
    } else {
        Err(ApiError::Forbidden("only a member of the pairing may report on it".into()))
    }
}

/// Whose figures a round report covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportOf<'a> {
    Network,
    Country(&'a str),
    Association(i32),
}

/// Round reports: admins all; an ambassador their countries'; an association its own.
///
/// # Errors
/// `UNAUTHENTICATED` without a token, `FORBIDDEN` for a report that is not the caller's.
pub fn round_report(viewer: &Viewer, of: ReportOf<'_>) -> ApiResult<()> {
    let allowed = match (viewer, of) {
        (Viewer::Admin { .. }, _) => true,
        (Viewer::Ambassador { countries, .. }, ReportOf::Country(code)) => countries.iter().any(|c| c == code),
        (Viewer::Association { association_id, .. }, ReportOf::Association(id)) => *association_id == id,
        (Viewer::Anonymous, _) => return Err(ApiError::Unauthenticated("round reports need a token".into())),
        _ => false,
    };
    if allowed {
        Ok(())
    } else {
        Err(ApiError::Forbidden(
            "round reports are for admins, the country's ambassadors and the association itself".into(),
        ))
    }
}

/// Whether the viewer reads every librarian's profile (admins), so that a field that
/// needs it does not have to look at the librarians.
pub fn reads_every_profile(viewer: &Viewer) -> bool {
    matches!(viewer, Viewer::Admin { .. })
}

/// Whether the viewer reads what an association sent for a linked member
/// (`Membership.sent`): the association, the librarian and admins, not ambassadors.
pub fn reads_sent_member(viewer: &Viewer) -> bool {
    !matches!(viewer, Viewer::Ambassador { .. })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    fn librarian_viewer(id: i32) -> Viewer {
        Viewer::Librarian { subject: "l".into(), librarian_id: id, partners: Default::default() }
    }

    #[test]
    fn each_rule_refuses_anonymous_callers_as_unauthenticated_and_others_as_forbidden() {
        let admin = Viewer::Admin { subject: "a".into() };
        let ambassador = Viewer::Ambassador { subject: "z".into(), countries: vec!["ZA".into()], librarian_id: None };
        let association = Viewer::Association { subject: "s".into(), association_id: 7 };
        let code = |r: ApiResult<()>| r.err().map(|e| e.code());
        assert_eq!(code(admin_rule(&Viewer::Anonymous)), Some(ErrorCode::Unauthenticated));
        assert_eq!(code(admin_rule(&ambassador)), Some(ErrorCode::Forbidden));
        assert_eq!(code(admin_rule(&admin)), None);
        assert_eq!(code(association_or_admin(&association, 7, "x", "y")), None);
        assert_eq!(code(association_or_admin(&association, 8, "x", "y")), Some(ErrorCode::Forbidden));
        assert_eq!(code(association_or_admin(&Viewer::Anonymous, 7, "x", "y")), Some(ErrorCode::Unauthenticated));
        assert_eq!(code(librarian_or_admin(&librarian_viewer(3), 3, "erase")), None);
        assert_eq!(code(librarian_or_admin(&librarian_viewer(4), 3, "erase")), Some(ErrorCode::Forbidden));
        assert_eq!(act_for(&association, 3).ok(), Some(ActFor::IfMemberOf(7)));
        assert_eq!(act_for(&librarian_viewer(3), 3).ok(), Some(ActFor::Allowed));
        assert_eq!(code(round_report(&ambassador, ReportOf::Country("ZA"))), None);
        assert_eq!(code(round_report(&ambassador, ReportOf::Country("NG"))), Some(ErrorCode::Forbidden));
        assert_eq!(code(round_report(&ambassador, ReportOf::Network)), Some(ErrorCode::Forbidden));
        assert!(!reads_sent_member(&ambassador) && reads_sent_member(&association));
    }

    fn admin_rule(viewer: &Viewer) -> ApiResult<()> {
        admin(viewer)
    }
}
