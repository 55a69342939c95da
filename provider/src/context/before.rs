//! What a plan records for a create (issue 16): the ids of the objects that already held the
//! create's key (a project's or a team's name, a service account's username) at plan time,
//! in the planned private state. The create gives them to the client, which, after an answer
//! that does not prove the create failed, adopts only an object that appeared since.

use serde::{Deserialize, Serialize};

use crate::framework::resource::planned_private;

#[derive(Serialize, Deserialize)]
struct Before {
    before: Vec<u64>,
}

/// The planned private state naming `ids` as existing before the create.
pub fn record_before(ids: impl Iterator<Item = u64>) -> Option<Vec<u8>> {
    serde_json::to_vec(&Before {
        before: ids.collect(),
    })
    .ok()
}

/// During a create: the ids its plan recorded, or `None` when the plan recorded none (the
/// client then lists before the first attempt).
pub fn planned_before() -> Option<Vec<u64>> {
    let private = planned_private();
    serde_json::from_slice::<Before>(&private)
        .ok()
        .map(|b| b.before)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::resource::with_planned_private;

    #[tokio::test]
    async fn what_a_plan_records_comes_back_during_the_create_only() {
        let private = record_before([3, 9].into_iter()).expect("encodes");
        let inside = with_planned_private(private, async { planned_before() }).await;
        assert_eq!(inside, Some(vec![3, 9]));
        assert_eq!(planned_before(), None);
        let garbage = with_planned_private(b"{}".to_vec(), async { planned_before() }).await;
        assert_eq!(garbage, None);
    }
}
