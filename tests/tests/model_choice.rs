//! The Model menu is saved as an index; the plugin also remembers the chosen model's name so a saved
//! project keeps its model when models are added to or removed from the search folders.

mod common;

use ofx_host::{HostConfig, ParamValue};

#[test]
fn choosing_a_model_remembers_its_name() {
    let session = common::load(HostConfig::default());
    let instance = session
        .create_instance(ofx_host::Context::Generator)
        .expect("instance created");
    assert_eq!(
        instance.param("modelName"),
        Some(ParamValue::Text(String::new())),
        "nothing remembered before the user picks a model"
    );
    instance.set_param("model", 0).unwrap();
    assert_eq!(
        instance.param("modelName"),
        Some(ParamValue::Text("tiny-shapes".into())),
        "the bundled default model is the first menu entry"
    );
    assert!(
        instance.plugin_edits().iter().any(|p| p == "modelName"),
        "{:?}",
        instance.plugin_edits()
    );
}
