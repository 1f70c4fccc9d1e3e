//! The scheduler kinds the engine offers: stable names (recipes, `t2v_defaults`, the plugin's saved choice),
//! user-facing labels and the parameterisations each handles.

use super::{ddim, dpmpp_2m, euler, euler_ancestral, flow_euler, lcm, unipc, Parameterisation};

/// The schedulers the engine offers, with stable names (used in recipes and `t2v_defaults`) and labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SchedulerKind {
    Ddim,
    Euler,
    EulerAncestral,
    DpmPp2m,
    Lcm,
    FlowEuler,
    UniPc,
}

impl SchedulerKind {
    /// Every kind, in the order the plugin's menu lists them. Frozen: old projects saved the menu index, so
    /// new kinds go at the end.
    pub const ALL: [SchedulerKind; 7] = [
        SchedulerKind::Ddim,
        SchedulerKind::Euler,
        SchedulerKind::EulerAncestral,
        SchedulerKind::DpmPp2m,
        SchedulerKind::Lcm,
        SchedulerKind::FlowEuler,
        SchedulerKind::UniPc,
    ];

    /// The stable name: `ddim`, `euler`, `euler_a`, `dpmpp_2m`, `lcm`, `flow_euler`, `unipc`.
    pub fn name(self) -> &'static str {
        match self {
            SchedulerKind::Ddim => "ddim",
            SchedulerKind::Euler => "euler",
            SchedulerKind::EulerAncestral => "euler_a",
            SchedulerKind::DpmPp2m => "dpmpp_2m",
            SchedulerKind::Lcm => "lcm",
            SchedulerKind::FlowEuler => "flow_euler",
            SchedulerKind::UniPc => "unipc",
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
            SchedulerKind::UniPc => "UniPC",
        }
    }

    /// The kind with this stable name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The model parameterisations this kind's update rule is written for (declared by its module).
    pub fn parameterisations(self) -> &'static [Parameterisation] {
        match self {
            SchedulerKind::Ddim => ddim::HANDLES,
            SchedulerKind::Euler => euler::HANDLES,
            SchedulerKind::EulerAncestral => euler_ancestral::HANDLES,
            SchedulerKind::DpmPp2m => dpmpp_2m::HANDLES,
            SchedulerKind::Lcm => lcm::HANDLES,
            SchedulerKind::FlowEuler => flow_euler::HANDLES,
            SchedulerKind::UniPc => unipc::HANDLES,
        }
    }

    pub fn handles(self, p: Parameterisation) -> bool {
        self.parameterisations().contains(&p)
    }
}

impl std::fmt::Display for SchedulerKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}
