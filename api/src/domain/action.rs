//! The network's writes by name. The audit log records each under its stored name, and a
//! refusal says in words which step the state did not allow; services name an action here
//! rather than by the API operation that asked for it.

macro_rules! actions {
    ($($variant:ident => $stored:literal, $doing:literal;)+) => {
        /// A write the network audits or guards by state.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Action { $($variant),+ }

        impl Action {
            /// Every action, in declaration order.
            pub const ALL: &'static [Action] = &[$(Action::$variant),+];

            /// The name the audit log stores. Stored names never change: entries already
            /// written keep theirs.
            pub fn as_str(self) -> &'static str {
                match self { $(Action::$variant => $stored),+ }
            }

            /// The action in words, for messages ("running matching needs ...").
            pub fn doing(self) -> &'static str {
                match self { $(Action::$variant => $doing),+ }
            }
        }
    };
}

actions! {
    CreateRound => "createRound", "creating a round";
    OpenApplications => "openApplications", "opening applications";
    CloseApplications => "closeApplications", "closing applications";
    CancelRound => "cancelRound", "cancelling a round";
    SetCountryShare => "setCountryShare", "setting a country's share";
    ApplyToRound => "applyToRound", "applying";
    WithdrawApplication => "withdrawApplication", "withdrawing an application";
    DeferApplication => "deferApplication", "deferring an application";
    ReadmitApplication => "readmitApplication", "readmitting an application";
    RunMatching => "runMatching", "running matching";
    ConfirmPairings => "confirmPairings", "confirming pairings";
    PairManually => "pairManually", "pairing by hand";
    DissolvePairing => "dissolvePairing", "dissolving a pairing";
    SwapPartners => "swapPartners", "swapping partners";
    AddTopic => "addTopic", "adding a topic";
    CompleteRound => "completeRound", "completing a round";
    CreateLibrarian => "createLibrarian", "creating a librarian";
    UpdateLibrarian => "updateLibrarian", "updating a librarian";
    EraseLibrarian => "eraseLibrarian", "erasing a librarian";
    SyncMembers => "syncMembers", "syncing members";
    UpdateMembership => "updateMembership", "updating a membership";
    ConfirmMembership => "confirmMembership", "confirming a membership";
    DeclineMembership => "declineMembership", "declining a membership";
    RegisterWebhook => "registerWebhook", "registering a webhook";
    DeleteWebhook => "deleteWebhook", "deleting a webhook";
    CreateAssociation => "createAssociation", "creating an association";
    UpdateAssociation => "updateAssociation", "updating an association";
    AppointAmbassador => "appointAmbassador", "appointing an ambassador";
    EndAmbassador => "endAmbassador", "ending an ambassador's term";
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::Action;

    #[test]
    fn every_action_has_its_own_stored_name() {
        let names: HashSet<&str> = Action::ALL.iter().map(|a| a.as_str()).collect();
        assert_eq!(names.len(), Action::ALL.len());
        assert!(Action::ALL.iter().all(|a| !a.doing().is_empty() && a.doing() != a.as_str()));
    }
}
