//! Process-wide memory of what the user asked for and what happened, shared by the UI instance and any
//! render instances the host creates: recipes approved with the Generate button, and the status line of
//! each clip (pushed into the `status` parameter at the next instance-changed, the only time OFX lets a
//! plugin set parameters safely).

use std::collections::{HashMap, HashSet};

use clip_cache::ClipKey;
use parking_lot::Mutex;

static APPROVED: Mutex<Option<HashSet<ClipKey>>> = Mutex::new(None);
static STATUS: Mutex<Option<HashMap<ClipKey, String>>> = Mutex::new(None);

/// The user pressed Generate for this recipe: interactive renders may now generate it.
pub fn approve(key: &ClipKey) {
    APPROVED
        .lock()
        .get_or_insert_with(HashSet::new)
        .insert(key.clone());
}

pub fn is_approved(key: &ClipKey) -> bool {
    APPROVED.lock().as_ref().is_some_and(|s| s.contains(key))
}

/// Forgets approvals and statuses (after clearing the cache, a clip must be asked for again).
pub fn forget(key: Option<&ClipKey>) {
    let mut approved = APPROVED.lock();
    let mut status = STATUS.lock();
    match key {
        Some(key) => {
            approved.as_mut().map(|s| s.remove(key));
            status.as_mut().map(|s| s.remove(key));
        }
        None => {
            *approved = None;
            *status = None;
        }
    }
}

pub fn set_status(key: &ClipKey, text: String) {
    STATUS
        .lock()
        .get_or_insert_with(HashMap::new)
        .insert(key.clone(), text);
}

pub fn status(key: &ClipKey) -> Option<String> {
    STATUS.lock().as_ref().and_then(|s| s.get(key).cloned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn approvals_and_statuses_are_per_key_and_can_be_forgotten() {
        let a = ClipKey::from_hex(&"a".repeat(64)).unwrap();
        let b = ClipKey::from_hex(&"b".repeat(64)).unwrap();
        approve(&a);
        set_status(&a, "generated".into());
        set_status(&b, "cached".into());
        assert!(is_approved(&a) && !is_approved(&b));
        assert_eq!(status(&a).as_deref(), Some("generated"));
        forget(Some(&a));
        assert!(!is_approved(&a));
        assert_eq!(status(&a), None);
        assert_eq!(status(&b).as_deref(), Some("cached"));
        forget(None);
        assert_eq!(status(&b), None);
    }
}
