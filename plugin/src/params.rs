//! The parameter table: names (the contract in docs/ARCHITECTURE.md), labels, hints, defaults and
//! ranges, independent of OFX so it can be checked in unit tests. `describe` turns it into OFX
//! parameters; `settings` reads the values back, clamped to the same declared ranges (hosts and
//! scripted project files do not enforce them).

use std::sync::OnceLock;

use crate::start_from::StartFrom;
use crate::transfer::Transfer;

/// Parameter names.
pub mod names {
    pub const PROMPT: &str = "prompt";
    pub const NEGATIVE_PROMPT: &str = "negativePrompt";
    pub const SEED: &str = "seed";
    pub const NEW_SEED: &str = "newSeed";
    pub const MODEL: &str = "model";
    pub const CUSTOM_MODEL: &str = "customModel";
    pub const STEPS: &str = "steps";
    pub const GUIDANCE: &str = "guidance";
    pub const SCHEDULER: &str = "scheduler";
    pub const FRAMES: &str = "frames";
    pub const OUTPUT_SIZE: &str = "outputSize";
    pub const WIDTH: &str = "width";
    pub const HEIGHT: &str = "height";
    pub const FIT_MODE: &str = "fitMode";
    pub const TIMING: &str = "timing";
    pub const PAST_END: &str = "pastEnd";
    pub const DEVICE: &str = "device";
    pub const GPU_INDEX: &str = "gpuIndex";
    pub const STRICT_DEVICE: &str = "strictDevice";
    /// Most GPU memory the model may take, in GB (2³⁰ bytes); 0 = `T2V_GPU_MEMORY_GB` or no limit.
    pub const GPU_MEMORY: &str = "gpuMemoryLimit";
    pub const UNLOAD_MODELS: &str = "unloadModels";
    pub const AUTO_GENERATE: &str = "autoGenerate";
    pub const GENERATE: &str = "generate";
    pub const CACHE_FOLDER: &str = "cacheFolder";
    /// Size cap of the cache folder in GB (2³⁰ bytes); 0 = `T2V_CACHE_MAX_GB` or the default.
    pub const CACHE_LIMIT: &str = "cacheLimit";
    pub const CLEAR_CLIP: &str = "clearClip";
    pub const CLEAR_ALL: &str = "clearAll";
    pub const STATUS: &str = "status";
    /// Read-only: the chosen model's licence as its package states it (`t2v_license`).
    pub const MODEL_LICENSE: &str = "modelLicense";
    /// Hidden counter bumped by `generate` so the host sees a change and re-renders.
    pub const GENERATION: &str = "generation";
    /// The chosen model's name, so a saved project keeps its model when the menu's order changes.
    pub const MODEL_NAME: &str = "modelName";
    /// The chosen scheduler's stable id (`ddim`, …, or `default`), so a saved project keeps its scheduler
    /// whatever the Scheduler menu's order.
    pub const SCHEDULER_NAME: &str = "schedulerName";
    /// Steps, Guidance and Frames follow the model (greyed out, showing its values).
    pub const USE_MODEL_DEFAULTS: &str = "useModelDefaults";
    /// Hidden: the parameter layout the project was last edited with, 0 before `useModelDefaults` (when
    /// 0 in Steps, Guidance or Frames meant the model's value; see `controls`).
    pub const PARAMS_VERSION: &str = "paramsVersion";
    pub const GROUP_SAMPLING: &str = "groupSampling";
    pub const GROUP_OUTPUT: &str = "groupOutput";
    pub const GROUP_CACHE: &str = "groupCache";
    pub const OUTPUT_TRANSFER: &str = "outputTransfer";
    /// The chosen output transfer's stable id (`srgb`, `linear`), so a saved project keeps it whatever the
    /// menu's order.
    pub const OUTPUT_TRANSFER_NAME: &str = "outputTransferName";
    pub const GROUP_SOURCE: &str = "groupSource";
    /// How far from the Source clip to go: 0 gives it back, 1 (the default) ignores it.
    pub const STRENGTH: &str = "strength";
    pub const START_FROM: &str = "startFrom";
    /// The chosen Start From's stable id (`none`, `clip_start`, `frame`), as `outputTransferName`.
    pub const START_FROM_NAME: &str = "startFromName";
    /// The timeline frame Start From: Source Frame reads.
    pub const START_FRAME: &str = "startFrame";
}

/// The `paramsVersion` this plugin writes (see `names::PARAMS_VERSION`).
pub const LAYOUT_VERSION: i32 = 1;

/// The Scheduler menu's first entry: the model's configured scheduler.
pub const MODEL_DEFAULT: &str = "Model Default";

/// Labels of the `scheduler` choice; index 0 keeps the model's configured scheduler, then
/// `SchedulerKind::ALL` in its frozen order (projects saved before `schedulerName` hold only the index).
pub const SCHEDULERS: [&str; 8] = [
    MODEL_DEFAULT,
    "DDIM",
    "Euler",
    "Euler a",
    "DPM++ 2M",
    "LCM",
    "Flow Euler",
    "UniPC",
];

#[derive(Clone, Debug, PartialEq)]
pub enum Kind {
    /// A page listing its children in order.
    Page(Vec<&'static str>),
    /// A group (a folding section, where hosts show no pages) of its children; open or closed at first.
    Group {
        children: Vec<&'static str>,
        open: bool,
    },
    Text {
        multi_line: bool,
        directory: bool,
        read_only: bool,
    },
    Int {
        default: i32,
        range: (i32, i32),
        display: (i32, i32),
    },
    Double {
        default: f64,
        range: (f64, f64),
        display: (f64, f64),
    },
    Bool(bool),
    Choice {
        options: Vec<String>,
        default: i32,
    },
    Button,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Def {
    pub name: &'static str,
    pub label: &'static str,
    pub hint: &'static str,
    pub kind: Kind,
    /// Whether a change re-renders (Resolve ignores this; see README).
    pub evaluate_on_change: bool,
    /// Hidden from the user.
    pub secret: bool,
}

fn def(name: &'static str, label: &'static str, hint: &'static str, kind: Kind) -> Def {
    Def {
        name,
        label,
        hint,
        kind,
        evaluate_on_change: true,
        secret: false,
    }
}

fn choice(options: &[&str], default: i32) -> Kind {
    Kind::Choice {
        options: options.iter().map(|s| s.to_string()).collect(),
        default,
    }
}

fn int(default: i32, range: (i32, i32), display: (i32, i32)) -> Kind {
    Kind::Int {
        default,
        range,
        display,
    }
}

const TEXT: Kind = Kind::Text {
    multi_line: true,
    directory: false,
    read_only: false,
};
const DIRECTORY: Kind = Kind::Text {
    multi_line: false,
    directory: true,
    read_only: false,
};

pub const NO_MODEL: &str = "(no model found)";

/// Every parameter: groups first (children name their group), pages last (their children must exist
/// first). `model_labels` come from discovery.
pub fn definitions(model_labels: &[String]) -> Vec<Def> {
    use names::*;
    let models: Vec<&str> = if model_labels.is_empty() {
        vec![NO_MODEL]
    } else {
        model_labels.iter().map(String::as_str).collect()
    };
    let text_line = Kind::Text {
        multi_line: false,
        directory: false,
        read_only: false,
    };
    let group = |name, label, children: &[&'static str], open| {
        def(
            name,
            label,
            "",
            Kind::Group {
                children: children.to_vec(),
                open,
            },
        )
    };
    let sampling = [
        USE_MODEL_DEFAULTS,
        STEPS,
        GUIDANCE,
        FRAMES,
        SCHEDULER,
        DEVICE,
        GPU_INDEX,
        GPU_MEMORY,
        STRICT_DEVICE,
        UNLOAD_MODELS,
    ];
    let output = [
        OUTPUT_SIZE,
        WIDTH,
        HEIGHT,
        FIT_MODE,
        OUTPUT_TRANSFER,
        TIMING,
        PAST_END,
    ];
    let cache = [CACHE_FOLDER, CACHE_LIMIT, CLEAR_CLIP, CLEAR_ALL];
    let source = [STRENGTH, START_FROM, START_FRAME];
    let max_side = t2v_engine::MAX_SIDE as i32;
    let defs = vec![
        group(GROUP_SAMPLING, "Sampling", &sampling, true),
        group(GROUP_OUTPUT, "Output", &output, true),
        group(GROUP_CACHE, "Cache", &cache, false),
        group(GROUP_SOURCE, "Source", &source, false),
        Def {
            evaluate_on_change: false,
            ..def(PROMPT, "Prompt", "What the clip shows.", TEXT)
        },
        Def {
            evaluate_on_change: false,
            ..def(NEGATIVE_PROMPT, "Negative Prompt", "What the clip should avoid.", TEXT)
        },
        def(SEED, "Seed", "Seed of the initial noise: the same seed and settings give the same clip.", int(42, (0, i32::MAX), (0, 100_000))),
        def(NEW_SEED, "New Seed", "Pick a new random seed.", Kind::Button),
        def(MODEL, "Model", "Models found in the bundle, the per-user models folder and T2V_MODEL_PATH.", choice(&models, 0)),
        def(CUSTOM_MODEL, "Custom Model Folder", "A model package folder; overrides Model when set.", DIRECTORY),
        Def {
            evaluate_on_change: false,
            ..def(MODEL_LICENSE, "Model Licence", "The chosen model's licence as its package states it: check it allows your use (ModelScope and Zeroscope weights are non-commercial).", Kind::Text { multi_line: false, directory: false, read_only: true })
        },
        def(GENERATE, "Generate", "Generate the clip for the current settings (interactive renders show a placeholder until then).", Kind::Button),
        def(AUTO_GENERATE, "Auto Generate", "Generate on interactive renders without pressing Generate.", Kind::Bool(false)),
        Def {
            evaluate_on_change: false,
            ..def(STATUS, "Status", "What was generated, how long it took, cache hit or miss, where the clip lives.", Kind::Text { multi_line: false, directory: false, read_only: true })
        },
        def(USE_MODEL_DEFAULTS, "Use Model Defaults", "Steps, Guidance and Frames follow the model (shown greyed out); turn off to set them.", Kind::Bool(true)),
        // The ranges start at 0 because projects saved before Use Model Defaults hold 0 for "the model's
        // value" (hosts clamp saved values to the declared range); the sliders start at 1.
        def(STEPS, "Steps", "Denoising steps.", int(0, (0, t2v_engine::limits::MAX_STEPS as i32), (1, 100))),
        def(GUIDANCE, "Guidance", "Classifier-free guidance scale; 1 disables guidance.", Kind::Double { default: 0.0, range: (0.0, 50.0), display: (1.0, 20.0) }),
        def(FRAMES, "Frames", "Frames to generate; above the model's maximum the clip is generated in overlapping windows of the model's length.", int(0, (0, t2v_engine::limits::MAX_FRAMES as i32), (1, 64))),
        def(SCHEDULER, "Scheduler", "Sampler; Model Default uses the model's scheduler config. DDIM, Euler, Euler a, DPM++ 2M and LCM run epsilon-, v- and sample-prediction models; Flow Euler and UniPC run flow-matching models (Wan). Only the schedulers the model can run are offered where the host can change the menu; elsewhere another choice falls back to the model's default, said in Status.", choice(&SCHEDULERS, 0)),
        def(DEVICE, "Device", "Where the model runs (GPU needs the CUDA bundle or CUDA 13; falls back to CPU unless Strict Device).", choice(&["CPU", "GPU (CUDA)"], 0)),
        // Device controls: which GPU, no silent fallback in strict mode, freeing memory on demand.
        def(GPU_INDEX, "GPU Index", "Which GPU runs the model when there are several (CUDA's numbering, 0 first).", int(0, (0, 63), (0, 7))),
        def(GPU_MEMORY, "GPU Memory Limit (GB)", "Most GPU memory the model may take, leaving the rest to the host (GB of 2^30 bytes); 0 uses T2V_GPU_MEMORY_GB, else no limit. T2V_GPU_ARENA=exact makes the GPU memory grow only by what is asked for.", Kind::Double { default: 0.0, range: (0.0, 1024.0), display: (0.0, 80.0) }),
        def(STRICT_DEVICE, "Strict Device", "Fail the render when the GPU cannot be used instead of running on the CPU (also T2V_STRICT_DEVICE=1).", Kind::Bool(false)),
        def(UNLOAD_MODELS, "Unload Models", "Release every loaded model's memory now (renders still running keep theirs until they finish).", Kind::Button),
        def(OUTPUT_SIZE, "Generate At", "Resolution of the generated clip. A project larger than 4096 pixels a side generates the largest size of its aspect the engine takes, upscaled.", choice(&["Project Size", "Model Native", "Custom"], 1)),
        def(WIDTH, "Width", "Custom generation width (pixels).", int(256, (8, max_side), (64, 2048))),
        def(HEIGHT, "Height", "Custom generation height (pixels).", int(256, (8, max_side), (64, 2048))),
        def(FIT_MODE, "Fit", "How the generated frame maps onto the project frame: Fill crops to cover it, Fit leaves transparent bars, Stretch distorts.", choice(&["Fit", "Fill", "Stretch"], 1)),
        output_transfer(),
        def(TIMING, "Timing", "How generated frames map onto timeline frames.", choice(&["Model FPS at Native Speed", "Stretch over the Clip", "One Generated Frame per Timeline Frame"], 0)),
        def(PAST_END, "Past the End", "What the timeline shows after the last generated frame.", choice(&["Hold", "Loop", "Ping-Pong"], 0)),
        def(STRENGTH, "Source Strength", "How far the clip may move from the Source input (General context): 0 gives the source back unchanged, 1 ignores it (pure generation; so connecting a Source changes nothing until this is lowered).", Kind::Double { default: 1.0, range: (0.0, 1.0), display: (0.0, 1.0) }),
        start_from(),
        def(START_FRAME, "Start Frame", "The timeline frame of the Source input that Start From: Source Frame makes the clip's first frame (for example the last frame of the shot before).", int(0, (i32::MIN, i32::MAX), (0, 1000))),
        def(CACHE_FOLDER, "Cache Folder", "Where generated clips are kept; empty uses T2V_CACHE_DIR or the per-user cache.", DIRECTORY),
        Def {
            evaluate_on_change: false,
            ..def(CACHE_LIMIT, "Cache Limit (GB)", "Size the cache folder is kept under by removing the least recently used clips (GB of 2^30 bytes); 0 uses T2V_CACHE_MAX_GB or 20 GB. A machine with T2V_CACHE_READ_ONLY=1 never writes or removes anything there.", Kind::Double { default: 0.0, range: (0.0, 1_000_000.0), display: (0.0, 500.0) })
        },
        def(CLEAR_CLIP, "Clear This Clip", "Remove the clip for the current settings from the cache.", Kind::Button),
        def(CLEAR_ALL, "Clear All", "Remove every cached clip in the cache folder.", Kind::Button),
        Def {
            secret: true,
            ..def(GENERATION, "Generation", "Bumped by Generate.", int(0, (0, i32::MAX), (0, 1000)))
        },
        Def {
            secret: true,
            ..def(MODEL_NAME, "Model Name", "The chosen model's name (survives changes to the Model menu).", text_line.clone())
        },
        output_transfer_name(),
        Def {
            secret: true,
            ..def(START_FROM_NAME, "Start From Name", "The chosen Start From's id (survives changes to the Start From menu).", text_line.clone())
        },
        Def {
            secret: true,
            ..def(SCHEDULER_NAME, "Scheduler Name", "The chosen scheduler's id (survives changes to the Scheduler menu).", text_line)
        },
        Def {
            secret: true,
            ..def(PARAMS_VERSION, "Parameters Version", "The parameter layout the project was last edited with.", int(0, (0, 1000), (0, 1000)))
        },
        def("pageGenerate", "Generate", "", Kind::Page(vec![PROMPT, NEGATIVE_PROMPT, SEED, NEW_SEED, MODEL, CUSTOM_MODEL, MODEL_LICENSE, GENERATE, AUTO_GENERATE, STATUS])),
        def("pageSampling", "Sampling", "", Kind::Page([&[GROUP_SAMPLING][..], &sampling[..]].concat())),
        def("pageOutput", "Output", "", Kind::Page([&[GROUP_OUTPUT][..], &output[..]].concat())),
        def("pageCache", "Cache", "", Kind::Page([&[GROUP_CACHE][..], &cache[..]].concat())),
        def("pageSource", "Source", "", Kind::Page([&[GROUP_SOURCE][..], &source[..]].concat())),
    ];
    defs
}

/// The group that lists parameter `name`, if any.
pub fn group_of<'d>(defs: &'d [Def], name: &str) -> Option<&'d Def> {
    defs.iter()
        .find(|d| matches!(&d.kind, Kind::Group { children, .. } if children.contains(&name)))
}

/// The Output transfer menu (`Transfer::ALL`'s order; sRGB, what projects saved before it show).
fn output_transfer() -> Def {
    let labels = Transfer::ALL.map(Transfer::label);
    def(
        names::OUTPUT_TRANSFER,
        "Output Transfer",
        "sRGB (Display): the frames as the model made them, for display-referred timelines. Linear \
         (Rec.709 primaries): the same light decoded with the sRGB curve, for scene-linear hosts (Nuke, \
         colour-managed Resolve). A colour-managed (OpenFX 1.5) host that asks for one of these gets it.",
        choice(&labels, 0),
    )
}

/// The Start From menu (`StartFrom::ALL`'s order; None first, the default).
fn start_from() -> Def {
    let labels = StartFrom::ALL.map(StartFrom::label);
    def(
        names::START_FROM,
        "Start From",
        "Make the clip's first frame a frame of the Source input (General context): the one at the \
         clip's first frame, or the one at Start Frame — to continue a shot from its last frame.",
        choice(&labels, 0),
    )
}

fn output_transfer_name() -> Def {
    Def {
        secret: true,
        ..def(
            names::OUTPUT_TRANSFER_NAME,
            "Output Transfer Name",
            "The chosen output transfer's id (survives changes to the Output transfer menu).",
            Kind::Text {
                multi_line: false,
                directory: false,
                read_only: false,
            },
        )
    }
}

/// Parameter `name` as declared (the model menu's options aside).
fn declared_def(name: &str) -> Option<&'static Def> {
    static DEFS: OnceLock<Vec<Def>> = OnceLock::new();
    DEFS.get_or_init(|| definitions(&[]))
        .iter()
        .find(|d| d.name == name)
}

fn declared(name: &str) -> Option<&'static Kind> {
    declared_def(name).map(|d| &d.kind)
}

/// The label users see for parameter `name` (error messages name parameters by it).
pub fn label(name: &str) -> &'static str {
    declared_def(name).map_or("", |d| d.label)
}

/// `value` of int parameter `name` clamped to its declared range (other kinds pass unchanged).
pub fn clamp_int(name: &str, value: i32) -> i32 {
    match declared(name) {
        Some(Kind::Int { range, .. }) => value.clamp(range.0, range.1),
        _ => value,
    }
}

/// `value` of double parameter `name` clamped to its declared range; NaN becomes its default.
pub fn clamp_double(name: &str, value: f64) -> f64 {
    match declared(name) {
        Some(Kind::Double { default, .. }) if value.is_nan() => *default,
        Some(Kind::Double { range, .. }) => value.clamp(range.0, range.1),
        _ => value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn has_every_contract_name_once() {
        let defs = definitions(&[]);
        for name in [
            "prompt",
            "negativePrompt",
            "seed",
            "newSeed",
            "model",
            "customModel",
            "steps",
            "guidance",
            "scheduler",
            "frames",
            "outputSize",
            "width",
            "height",
            "fitMode",
            "timing",
            "pastEnd",
            "device",
            "gpuIndex",
            "strictDevice",
            "unloadModels",
            "autoGenerate",
            "generate",
            "cacheFolder",
            "cacheLimit",
            "clearClip",
            "clearAll",
            "status",
        ] {
            assert_eq!(defs.iter().filter(|d| d.name == name).count(), 1, "{name}");
        }
    }

    /// Asserts that `default` and the display range of parameter `name` sit inside `range`.
    fn assert_within<T: PartialOrd>(name: &str, default: T, range: (T, T), display: (T, T)) {
        assert!(range.0 <= default && default <= range.1, "{name}");
        assert!(range.0 <= display.0 && display.1 <= range.1, "{name}");
    }

    #[test]
    fn numeric_defaults_sit_inside_range_and_display_range() {
        for d in definitions(&[]) {
            match d.kind {
                Kind::Int {
                    default,
                    range,
                    display,
                } => {
                    assert_within(d.name, default, range, display);
                    assert!(display.0 < display.1, "{}", d.name);
                }
                Kind::Double {
                    default,
                    range,
                    display,
                } => assert_within(d.name, default, range, display),
                _ => {}
            }
        }
    }

    #[test]
    fn values_are_clamped_to_the_declared_ranges() {
        use names::*;
        assert_eq!(clamp_int(STEPS, -3), 0);
        assert_eq!(clamp_int(STEPS, 100_000), 1000);
        assert_eq!(clamp_int(WIDTH, 0), 8);
        assert_eq!(clamp_int(FRAMES, i32::MAX), 1024);
        assert_eq!(clamp_int(SEED, i32::MIN), 0);
        assert_eq!(clamp_int(SEED, 77), 77);
        assert_eq!(clamp_int(FIT_MODE, 9), 9, "choices are not ints");
        assert_eq!(clamp_double(GUIDANCE, 3e38), 50.0);
        assert_eq!(clamp_double(GUIDANCE, f64::NEG_INFINITY), 0.0);
        assert_eq!(clamp_double(GUIDANCE, f64::NAN), 0.0);
        assert_eq!(clamp_double(GUIDANCE, 7.5), 7.5);
        assert_eq!(label(CACHE_FOLDER), "Cache Folder");
    }

    #[test]
    fn pages_list_every_visible_parameter() {
        let defs = definitions(&["a".into()]);
        let on_pages: Vec<&str> = defs
            .iter()
            .filter_map(|d| match &d.kind {
                Kind::Page(children) => Some(children.clone()),
                _ => None,
            })
            .flatten()
            .collect();
        for d in defs.iter().filter(|d| !matches!(d.kind, Kind::Page(_))) {
            assert_eq!(on_pages.contains(&d.name), !d.secret, "{}", d.name);
        }
    }

    #[test]
    fn model_choice_lists_discovered_models_or_says_none() {
        let find = |defs: Vec<Def>| defs.into_iter().find(|d| d.name == "model").unwrap().kind;
        assert_eq!(find(definitions(&[])), choice(&[NO_MODEL], 0));
        assert_eq!(
            find(definitions(&["tiny-shapes".into(), "zeroscope".into()])),
            choice(&["tiny-shapes", "zeroscope"], 0)
        );
        let scheduler = definitions(&[])
            .into_iter()
            .find(|d| d.name == "scheduler")
            .unwrap();
        assert_eq!(scheduler.kind, choice(&SCHEDULERS, 0));
    }

    #[test]
    fn ranges_are_what_the_engine_accepts() {
        use names::*;
        use t2v_engine::limits::{MAX_FRAMES, MAX_STEPS};
        assert_eq!(clamp_int(WIDTH, i32::MAX), 4096);
        assert_eq!(clamp_int(HEIGHT, i32::MAX), t2v_engine::MAX_SIDE as i32);
        assert_eq!(clamp_int(STEPS, i32::MAX), MAX_STEPS as i32);
        assert_eq!(clamp_int(FRAMES, i32::MAX), MAX_FRAMES as i32);
    }

    /// Hosts' own labels are in Title Case: every word capitalised but short joining words.
    #[test]
    fn labels_and_options_are_in_title_case() {
        let small = ["a", "at", "by", "of", "on", "over", "per", "the", "to"];
        let check = |text: &str| {
            for (i, word) in text.split([' ', '-']).enumerate() {
                let first = word.chars().next().unwrap_or('A');
                let ok = first.is_uppercase()
                    || !first.is_alphabetic()
                    || (i > 0 && small.contains(&word))
                    || word == "a" // "Euler a" is the sampler's name
                    || word == "sRGB";
                assert!(ok, "{text:?}: {word:?}");
            }
        };
        for d in definitions(&[]) {
            check(d.label);
            // The Model menu lists folder names.
            if let (Kind::Choice { options, .. }, false) = (&d.kind, d.name == names::MODEL) {
                options.iter().for_each(|o| check(o));
            }
        }
    }

    #[test]
    fn groups_hold_the_sampling_output_and_cache_parameters() {
        let defs = definitions(&[]);
        let group = |name| group_of(&defs, name).map(|g| g.name);
        assert_eq!(group(names::STEPS), Some(names::GROUP_SAMPLING));
        assert_eq!(
            group(names::USE_MODEL_DEFAULTS),
            Some(names::GROUP_SAMPLING)
        );
        assert_eq!(group(names::FIT_MODE), Some(names::GROUP_OUTPUT));
        assert_eq!(group(names::CLEAR_ALL), Some(names::GROUP_CACHE));
        assert_eq!(group(names::PROMPT), None);
        let position = |name| defs.iter().position(|d| d.name == name).unwrap();
        for d in &defs {
            if let Some(g) = group_of(&defs, d.name) {
                assert!(
                    position(g.name) < position(d.name),
                    "{} before its group",
                    d.name
                );
            }
        }
    }
}
