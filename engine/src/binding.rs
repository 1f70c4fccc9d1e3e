//! Denoiser runs through ONNX Runtime's I/O binding. A generation's text contexts are the same at every
//! step, so each becomes a tensor once and is bound once, in a binding of its own (on a CUDA session it is
//! copied to the GPU once instead of at every step; for an fp16 package it is converted once); a step binds
//! only the latents and the timestep beside it. The output is bound to CPU memory, where the scheduler
//! works.

use ort::memory::{AllocationDevice, AllocatorType, MemoryInfo, MemoryType};
use ort::session::{IoBinding, Session, SessionOutputs};
use ort::value::DynValue;

use crate::io::{float_tensor, Float};

/// The bound text contexts of one generation ([negative; prompt] when guided), one binding each.
#[derive(Default)]
pub(crate) struct ContextBindings {
    bindings: Vec<IoBinding>,
}

impl ContextBindings {
    /// Binds each of `contexts` (`kind`, `shape` [batch, tokens, hidden]) to `input` of `session`, in a
    /// binding whose `output` goes to CPU memory; replaces the contexts bound before.
    pub fn bind(
        &mut self,
        session: &Session,
        input: &str,
        output: &str,
        kind: Float,
        shape: [usize; 3],
        contexts: &[Vec<f32>],
    ) -> ort::Result<()> {
        self.bindings.clear();
        let cpu = MemoryInfo::new(
            AllocationDevice::CPU,
            0,
            AllocatorType::Device,
            MemoryType::Default,
        )?;
        for context in contexts {
            let mut binding = session.create_binding()?;
            binding.bind_input(input, &float_tensor(kind, &shape, context)?)?;
            binding.bind_output_to_device(output, &cpu)?;
            self.bindings.push(binding);
        }
        Ok(())
    }

    /// Runs `session` on context `k` with this step's `inputs` bound beside it. The output buffer is
    /// reused by the next run of the same context: read it before.
    pub fn run<'b>(
        &'b mut self,
        session: &'b mut Session,
        k: usize,
        inputs: [(&str, DynValue); 2],
    ) -> ort::Result<SessionOutputs<'b>> {
        let count = self.bindings.len();
        let binding = self.bindings.get_mut(k).ok_or_else(|| {
            ort::Error::new(format!("text context {k} is not bound ({count} are)"))
        })?;
        for (name, value) in inputs {
            binding.bind_input(name, &value)?;
        }
        session.run_binding(binding)
    }

    /// Drops the bound contexts (and their copies on the device) once a generation is done.
    pub fn clear(&mut self) {
        self.bindings.clear();
    }
}
