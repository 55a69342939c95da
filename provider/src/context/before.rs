//! What a plan records for a create (issue 16): the ids of the objects that already held the
//! create's key (a project's or a team's name, a service account's username) when the create
//! was planned, in the planned private state, and the id of the object a replacement replaces.
//! "Planned" is the plan Terraform makes during the apply, just before it applies the
//! resource, not the user's earlier `terraform plan`: the planned private state a create gets
//! is that plan's, so "held at plan time" below means "held just before the create". The create
//! gives them to the client, which, after an answer that does not prove the create failed,
//! adopts only an object that appeared since.
//!
//! The rule for an object that held the key when the create was planned and is not the one
//! being replaced ([`existing_at_plan`]): it is not in Terraform's state, so it is either one that an apply
//! killed before it wrote its state made, or someone else's, and nothing tells the two apart
//! (a project has no field to mark it, a service account's secret was in the lost answer). A
//! create of a project or service account is then refused, naming the exact import, instead
//! of making a twin.
//!
//! A grant (a user's, a team's or a service account's role on a project) has no id of its own
//! and Mixpanel's add-to-project is create-or-update: a create sent for a principal that already
//! holds another role would change that role without anyone having planned it. So a grant's
//! create checks the grant as Mixpanel holds it before it writes ([`existing_grant`]): the
//! planned role already held is adopted, another role refused with the import. No plan record
//! serves here: Terraform plans each resource again during the apply, just before it applies
//! it, and the planned private state the create gets is that plan's, so a read at the create
//! sees all a plan record could, and what appeared since the user's plan too.

use mixpanel_access::model::ProjectId;
use mixpanel_access::permissions::AssignableRole;
use serde::{Deserialize, Serialize};

use crate::framework::resource::planned_private;

#[derive(Serialize, Deserialize)]
struct Before {
    before: Vec<u64>,
    /// The object a replacement replaces (it holds the key too, and is no stranger).
    #[serde(default)]
    replaces: Option<u64>,
}

/// The planned private state naming `ids` as existing before the create, `replaces` the one
/// a replacement replaces.
pub fn record_before(ids: impl Iterator<Item = u64>, replaces: Option<u64>) -> Option<Vec<u8>> {
    serde_json::to_vec(&Before {
        before: ids.collect(),
        replaces,
    })
    .ok()
}

fn recorded() -> Option<Before> {
    serde_json::from_slice::<Before>(&planned_private()).ok()
}

/// During a create: the ids its plan recorded, or `None` when the plan recorded none (the
/// client then lists before the first attempt).
pub fn planned_before() -> Option<Vec<u64>> {
    recorded().map(|b| b.before)
}

/// During a create: the objects that held its key at plan time, other than the one it
/// replaces (see the module docs).
pub fn existing_at_plan() -> Vec<u64> {
    recorded()
        .map(|b| {
            b.before
                .into_iter()
                .filter(|id| Some(*id) != b.replaces)
                .collect()
        })
        .unwrap_or_default()
}

/// The error for a create whose key `what` (e.g. `project name "x"`) was held at plan time by
/// `ids`, with the import of each in both forms.
pub fn held_at_plan(
    type_name: &str,
    what: &str,
    ids: &[u64],
    extra: &str,
) -> crate::framework::Diagnostic {
    let imports: Vec<String> = ids
        .iter()
        .map(|id| {
            format!(
                "`terraform import {type_name}.<name> {id}`, or an `import {{ to = {type_name}.<name>\n  id = \"{id}\" }}` block"
            )
        })
        .collect();
    crate::framework::Diagnostic::error(
        "Already exists, not in the state",
        format!(
            "Mixpanel already holds {} with the {what} (id {}), which Terraform's state does not: one made by an apply that was interrupted before it wrote its state, or one made outside this configuration. Nothing was created, so no twin exists. Import it: {}.{extra}",
            if ids.len() == 1 { "an object" } else { "objects" },
            ids.iter().map(u64::to_string).collect::<Vec<_>>().join(", "),
            imports.join("; or ")
        ),
    )
}

/// A grant a create is about to write: for whom, on which project, and how to import it.
pub struct GrantKey<'a> {
    /// The Terraform type, e.g. `mixpanel_project_member`.
    pub type_name: &'static str,
    /// Who holds it, as a sentence names them: `ana@example.com`, `team 42`.
    pub who: String,
    pub project: ProjectId,
    /// The id `terraform import` takes for it.
    pub import_id: String,
    /// The attribute the diagnostic is on.
    pub attr: &'a str,
}

/// The check a grant's create makes before it writes, with `now` the grant as Mixpanel lists
/// it and `role` its role: `Ok(Some(now))` when it already holds `planned` (the planned end
/// state, to adopt without a write), `Ok(None)` when there is none (write), and an error saying
/// what differs, with the import, when it holds another role: the create-or-update would
/// otherwise change a role nobody planned to change.
pub fn existing_grant<G>(
    key: &GrantKey<'_>,
    now: Option<G>,
    role: impl Fn(&G) -> &AssignableRole,
    planned: &AssignableRole,
) -> Result<Option<G>, crate::framework::Diagnostic> {
    let Some(grant) = now else {
        return Ok(None);
    };
    let held = role(&grant);
    if held == planned {
        return Ok(Some(grant));
    }
    let GrantKey {
        type_name,
        who,
        project,
        import_id,
        attr,
    } = key;
    Err(crate::framework::Diagnostic::attr_error(
        *attr,
        "The grant exists with another role",
        format!(
            "{who} already holds role {held} in project {project}; the plan says {planned}. Terraform's state does not hold this grant: it was made outside this configuration (before this apply or during it), or by an apply interrupted before it wrote its state. Nothing was sent, so {who} still holds {held}. To manage this grant here, import it: `terraform import {type_name}.<name> \"{import_id}\"`, or an `import {{ to = {type_name}.<name>\n  id = \"{import_id}\" }}` block (<name> is this resource's name); the next apply then changes the role to {planned}. Or remove the grant in Mixpanel first."
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::resource::with_planned_private;

    #[tokio::test]
    async fn what_a_plan_records_comes_back_during_the_create_only() {
        let private = record_before([3, 9].into_iter(), Some(9)).expect("encodes");
        let inside = with_planned_private(private.clone(), async { planned_before() }).await;
        assert_eq!(inside, Some(vec![3, 9]));
        let strangers = with_planned_private(private, async { existing_at_plan() }).await;
        assert_eq!(strangers, vec![3], "the replaced object is no stranger");
        assert_eq!(planned_before(), None);
        assert!(existing_at_plan().is_empty());
        let garbage = with_planned_private(b"{}".to_vec(), async { planned_before() }).await;
        assert_eq!(garbage, None);
        // What an earlier provider recorded (no `replaces`) still reads.
        let old = with_planned_private(br#"{"before":[4]}"#.to_vec(), async {
            (planned_before(), existing_at_plan())
        })
        .await;
        assert_eq!(old, (Some(vec![4]), vec![4]));
    }

    #[test]
    fn a_grant_with_another_role_is_refused_the_planned_one_adopted() {
        let key = GrantKey {
            type_name: "mixpanel_project_member",
            who: "ana@example.com".into(),
            project: ProjectId(31),
            import_id: "31/ana@example.com".into(),
            attr: "role",
        };
        let role = |s: &str| s.parse::<AssignableRole>().expect("a role");
        let (analyst, consumer) = (role("analyst"), role("consumer"));
        assert_eq!(
            existing_grant(&key, None::<AssignableRole>, |r| r, &consumer).ok(),
            Some(None)
        );
        assert_eq!(
            existing_grant(&key, Some(consumer.clone()), |r| r, &consumer).ok(),
            Some(Some(consumer.clone()))
        );
        let d = existing_grant(&key, Some(analyst.clone()), |r| r, &consumer)
            .expect_err("another role is refused");
        assert!(
            d.detail.contains(
                "ana@example.com already holds role analyst in project 31; the plan says consumer."
            ),
            "{}",
            d.detail
        );
        assert!(
            d.detail.contains(
                r#"`terraform import mixpanel_project_member.<name> "31/ana@example.com"`"#
            ),
            "{}",
            d.detail
        );
        assert!(
            d.detail.contains(r#"id = "31/ana@example.com" }"#),
            "{}",
            d.detail
        );
        assert_eq!(
            d.attribute.map(|p| format!("{p:?}")),
            Some(format!("{:?}", crate::cty::AttributePath::attr("role")))
        );
    }
}
