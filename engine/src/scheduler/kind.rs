//! The scheduler kinds the engine offers: stable names (recipes, `t2v_defaults`) and user-facing labels.

/// The schedulers the engine offers, with stable names (used in recipes and `t2v_defaults`) and labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SchedulerKind {
    Ddim,
    Euler,
    EulerAncestral,
    DpmPp2m,
    Lcm,
    FlowEuler,
}

impl SchedulerKind {
    /// Every kind, in the order the plugin's menu lists them.
    pub const ALL: [SchedulerKind; 6] = [
        SchedulerKind::Ddim,
        SchedulerKind::Euler,
        SchedulerKind::EulerAncestral,
        SchedulerKind::DpmPp2m,
        SchedulerKind::Lcm,
        SchedulerKind::FlowEuler,
    ];

    /// The stable name: `ddim`, `euler`, `euler_a`, `dpmpp_2m`, `lcm`, `flow_euler`.
    pub fn name(self) -> &'static str {
        match self {
            SchedulerKind::Ddim => "ddim",
            SchedulerKind::Euler => "euler",
            SchedulerKind::EulerAncestral => "euler_a",
            SchedulerKind::DpmPp2m => "dpmpp_2m",
            SchedulerKind::Lcm => "lcm",
            SchedulerKind::FlowEuler => "flow_euler",
        }
    }

    /// The label shown to users.
    pub fn label(self) -> &'static str {
        match self {
            SchedulerKind::Ddim => "DDIM",
            SchedulerKind::Euler => "Euler",
            SchedulerKind::EulerAncestral => "Euler a",
            SchedulerKind::DpmPp2m => "DPM++ 2M",
            SchedulerKind::Lcm => "LCM",
            SchedulerKind::FlowEuler => "Flow Euler",
        }
    }

    /// The kind with this stable name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }
}

impl std::fmt::Display for SchedulerKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}
