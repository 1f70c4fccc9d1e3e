//! Load and describe, as an editor does before any instance exists: identity, menu, contexts,
//! clips, the parameter contract of docs/ARCHITECTURE.md — and no ONNX Runtime or model loaded.
//! (No renders in this file: the ONNX Runtime check relies on it.)

mod common;

use ofx_host::{Context, HostConfig, Value};
use ofx_sys::*;

/// Asserts that each of `wanted` is among `found` (`what` names the list in the message).
fn assert_contains_all(found: &[String], wanted: &[&str], what: &str) {
    let missing: Vec<&str> = wanted
        .iter()
        .copied()
        .filter(|w| !found.iter().any(|f| f == w))
        .collect();
    assert!(
        missing.is_empty(),
        "{missing:?} missing from {what} {found:?}"
    );
}

/// The bounds a numeric parameter needs (Resolve clamps without them).
const RANGE_PROPS: [&std::ffi::CStr; 4] = [
    kOfxParamPropMin,
    kOfxParamPropMax,
    kOfxParamPropDisplayMin,
    kOfxParamPropDisplayMax,
];

#[test]
fn identity_menu_contexts_and_depths() {
    let session = common::load(HostConfig::default());
    assert_eq!(
        session.identity(),
        ("org.texttovideo.TextToVideo".to_string(), 1, 0),
        "the workspace version, 1.0.x: what hosts saved projects with (a new major is another plugin to them)"
    );
    let d = session.descriptor();
    assert_eq!(
        d.string(kOfxPropVersionLabel, 0).as_deref(),
        Some(env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(d.string(kOfxPropLabel, 0).as_deref(), Some("Text to Video"));
    assert_eq!(
        d.string(kOfxImageEffectPluginPropGrouping, 0).as_deref(),
        Some("AI/Generate")
    );
    assert_contains_all(
        &d.strings(kOfxImageEffectPropSupportedContexts),
        &[
            "OfxImageEffectContextGenerator",
            "OfxImageEffectContextGeneral",
        ],
        "contexts",
    );
    assert_contains_all(
        &d.strings(kOfxImageEffectPropSupportedPixelDepths),
        &[
            "OfxBitDepthFloat",
            "OfxBitDepthShort",
            "OfxBitDepthByte",
            "OfxBitDepthHalf",
        ],
        "depths",
    );
    assert_eq!(
        d.string(kOfxImageEffectPluginRenderThreadSafety, 0)
            .as_deref(),
        Some("OfxImageEffectRenderFullySafe")
    );
    session.unload().unwrap();
}

#[test]
fn half_is_offered_only_where_the_host_has_it() {
    let session = common::load(HostConfig::resolve());
    let depths = session
        .descriptor()
        .strings(kOfxImageEffectPropSupportedPixelDepths);
    assert!(!depths.iter().any(|x| x == "OfxBitDepthHalf"), "{depths:?}");
}

#[test]
fn both_contexts_define_an_output_and_only_optional_inputs() {
    let session = common::load(HostConfig::default());
    for context in [Context::Generator, Context::General] {
        let description = session.describe_in_context(context).unwrap();
        let names: Vec<&str> = description.clips.iter().map(|(n, _)| n.as_str()).collect();
        assert!(names.contains(&"Output"), "{context:?}: {names:?}");
        for (name, props) in &description.clips {
            if name != "Output" {
                assert_eq!(
                    props.int(kOfxImageClipPropOptional, 0),
                    Some(1),
                    "{context:?}: clip {name} must be optional"
                );
            }
        }
    }
    let general = session.describe_in_context(Context::General).unwrap();
    assert!(
        general.clips.iter().any(|(n, _)| n == "Source"),
        "General context needs the optional Source clip"
    );
}

#[test]
fn parameters_follow_the_contract() {
    let session = common::load(HostConfig::default());
    let instance = session.create_instance(Context::Generator).unwrap();
    let names = instance.param_names();
    let expect = |name: &str, ty: &std::ffi::CStr| {
        let props = instance
            .param_props(name)
            .unwrap_or_else(|| panic!("parameter {name} missing from {names:?}"));
        assert_eq!(
            props.string(kOfxParamPropType, 0).as_deref(),
            Some(ty.to_str().unwrap()),
            "type of {name}"
        );
        props
    };
    for name in ["prompt", "negativePrompt"] {
        let props = expect(name, kOfxParamTypeString);
        assert_eq!(
            props.string(kOfxParamPropStringMode, 0).as_deref(),
            Some("OfxParamStringIsMultiLine"),
            "{name}"
        );
        assert_eq!(
            props.int(kOfxParamPropEvaluateOnChange, 0),
            Some(0),
            "{name} must not re-render per keystroke"
        );
    }
    for name in ["customModel", "cacheFolder"] {
        let props = expect(name, kOfxParamTypeString);
        assert_eq!(
            props.string(kOfxParamPropStringMode, 0).as_deref(),
            Some("OfxParamStringIsDirectoryPath"),
            "{name}"
        );
    }
    for name in ["newSeed", "generate", "clearClip", "clearAll"] {
        expect(name, kOfxParamTypePushButton);
    }
    for name in ["seed", "steps", "frames", "width", "height"] {
        let props = expect(name, kOfxParamTypeInteger);
        for range in RANGE_PROPS {
            assert!(
                props.get(range).is_some(),
                "{name} lacks {range:?} (Resolve clamps without it)"
            );
        }
    }
    let guidance = expect("guidance", kOfxParamTypeDouble);
    for range in RANGE_PROPS {
        assert!(
            matches!(guidance.get(range), Some(Value::Double(_))),
            "guidance lacks {range:?}"
        );
    }
    let choices = [
        ("scheduler", 8),
        ("outputSize", 3),
        ("fitMode", 3),
        ("timing", 3),
        ("pastEnd", 3),
        ("device", 2),
    ];
    for (name, count) in choices {
        let options = expect(name, kOfxParamTypeChoice).strings(kOfxParamPropChoiceOption);
        assert_eq!(options.len(), count, "{name}: {options:?}");
    }
    assert!(!expect("model", kOfxParamTypeChoice)
        .strings(kOfxParamPropChoiceOption)
        .is_empty());
    expect("autoGenerate", kOfxParamTypeBoolean);
    let status = expect("status", kOfxParamTypeString);
    let label =
        status.string(kOfxParamPropStringMode, 0).as_deref() == Some("OfxParamStringIsLabel");
    assert!(
        label || status.int(kOfxParamPropEnabled, 0) == Some(0),
        "status must be read-only"
    );
    // every parameter sits on a page
    let pages: Vec<String> = names
        .iter()
        .filter(|n| {
            instance
                .param_props(n)
                .unwrap()
                .string(kOfxParamPropType, 0)
                .as_deref()
                == Some("OfxParamTypePage")
        })
        .cloned()
        .collect();
    let children: Vec<String> = pages
        .iter()
        .flat_map(|p| {
            instance
                .param_props(p)
                .unwrap()
                .strings(kOfxParamPropPageChild)
        })
        .collect();
    assert_contains_all(
        &children,
        &[
            "prompt",
            "seed",
            "model",
            "steps",
            "outputSize",
            "timing",
            "device",
            "cacheFolder",
            "status",
        ],
        &format!("the children of pages {pages:?}:"),
    );
    instance.destroy().unwrap();
}

#[test]
fn ranges_are_the_engines_and_controls_sit_in_folding_groups() {
    let session = common::load(HostConfig::default());
    let instance = session.create_instance(Context::Generator).unwrap();
    let props = |name: &str| instance.param_props(name).unwrap();
    for (name, max) in [
        ("width", 4096),
        ("height", 4096),
        ("steps", 1000),
        ("frames", 1024),
    ] {
        assert_eq!(props(name).int(kOfxParamPropMax, 0), Some(max), "{name}");
    }
    let toggle = props("useModelDefaults");
    assert_eq!(
        toggle.string(kOfxParamPropType, 0).as_deref(),
        Some("OfxParamTypeBoolean")
    );
    assert_eq!(toggle.int(kOfxParamPropDefault, 0), Some(1));
    assert_eq!(
        props("fitMode").int(kOfxParamPropDefault, 0),
        Some(1),
        "Fill: no transparent bars on new instances"
    );
    for (child, group, label) in [
        ("steps", "groupSampling", "Sampling"),
        ("scheduler", "groupSampling", "Sampling"),
        ("fitMode", "groupOutput", "Output"),
        ("clearAll", "groupCache", "Cache"),
    ] {
        assert_eq!(
            props(child).string(kOfxParamPropParent, 0).as_deref(),
            Some(group),
            "{child}"
        );
        let g = props(group);
        assert_eq!(
            g.string(kOfxParamPropType, 0).as_deref(),
            Some("OfxParamTypeGroup")
        );
        assert_eq!(g.string(kOfxPropLabel, 0).as_deref(), Some(label));
    }
    assert_eq!(
        props("prompt").string(kOfxParamPropParent, 0).as_deref(),
        Some("")
    );
    assert_eq!(
        props("negativePrompt").string(kOfxPropLabel, 0).as_deref(),
        Some("Negative Prompt")
    );
    assert_eq!(
        props("outputSize").strings(kOfxParamPropChoiceOption),
        ["Project Size", "Model Native", "Custom"]
    );
    instance.destroy().unwrap();
}

#[test]
fn describe_loads_neither_onnx_runtime_nor_a_model() {
    let session = common::load(HostConfig::default());
    session.describe_in_context(Context::Generator).unwrap();
    session.describe_in_context(Context::General).unwrap();
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    assert!(
        !maps.contains("libonnxruntime"),
        "ONNX Runtime was loaded during describe"
    );
}
