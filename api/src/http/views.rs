//! Service results as JSON outside GraphQL, with global ids: the bulk path's answer and
//! what the command line prints. (GraphQL types present the same results in the schema.)

use serde_json::json;

use crate::domain::{GlobalId, NodeKind};
use crate::service::rounds::MatchingRun;
use crate::service::sync::SyncReport;

/// A sync's result: the bulk path's answer (the fields of `SyncMembersPayload`).
pub fn sync_report(report: &SyncReport) -> serde_json::Value {
    let c = &report.counts;
    json!({
        "syncRun": report.run.as_ref().map(|run| json!({
            "id": GlobalId::encode(NodeKind::SyncRun, run.id),
            "startedAt": run.started_at,
            "finishedAt": run.finished_at,
        })),
        "dryRun": report.dry_run,
        "replayed": report.replayed,
        "received": c.received,
        "created": c.created,
        "updated": c.updated,
        "unchanged": c.unchanged,
        "deactivated": c.deactivated,
        "reactivated": c.reactivated,
        "failed": c.failed,
        "userErrors": report.user_errors,
    })
}

/// A matching run, as `interlib match` prints it.
pub fn matching_run(run: &MatchingRun) -> serde_json::Value {
    let librarian = |id: i32| GlobalId::encode(NodeKind::Librarian, id);
    json!({
        "round": GlobalId::encode(NodeKind::Round, run.round.id),
        "dryRun": run.dry_run,
        "summary": {
            "applicants": run.applicants,
            "kept": run.kept,
            "groups": run.proposals.len(),
            "groupsOfThree": run.proposals.iter().filter(|p| p.librarian_ids.len() == 3).count(),
            "unmatched": run.unmatched.len(),
            "matchingWeight": run.matching_weight,
            "candidateEdges": run.candidate_edges,
            "pricingRounds": run.pricing_rounds,
            "provenOptimal": run.proven_optimal,
            "engineMillis": run.engine_millis,
        },
        "proposals": run.proposals.iter().map(|p| json!({
            "members": p.librarian_ids.iter().map(|id| librarian(*id)).collect::<Vec<_>>(),
            "score": p.score,
            "explanation": p.explanation,
            "pairing": p.pairing.as_ref().map(|m| GlobalId::encode(NodeKind::Pairing, m.id)),
        })).collect::<Vec<_>>(),
        "unmatched": run.unmatched.iter().map(|u| json!({
            "librarian": librarian(u.librarian_id),
            "reason": u.reason,
            "message": u.reason.describe(),
        })).collect::<Vec<_>>(),
    })
}
