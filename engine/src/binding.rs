//! Denoiser runs through ONNX Runtime's I/O binding. A generation's text contexts are the same at every
//! step, so each becomes a tensor once and is bound once, in a binding of its own (on a CUDA session it is
//! copied to the GPU once instead of at every step; for an fp16 package it is converted once); a step binds
//! only the latents and the timestep beside it. The output is bound to CPU memory, where the scheduler
//! works. The causal VAEs' caches, which only feed the next chunk's run, are bound to the memory of the
//! sessions' device ([`DeviceMemory`]), so on a GPU they never leave it.

use ort::memory::{AllocationDevice, AllocatorType, MemoryInfo, MemoryType};
use ort::session::{IoBinding, Session, SessionOutputs};
use ort::value::DynValue;

use crate::io::{float_tensor, Float};
use crate::runtime::Device;

/// CPU memory, where outputs the engine reads go.
pub(crate) fn cpu_memory() -> ort::Result<MemoryInfo<'static>> {
    MemoryInfo::new(
        AllocationDevice::CPU,
        0,
        AllocatorType::Device,
        MemoryType::Default,
    )
}

/// The memory of the device a model's sessions run on: outputs that only feed another run stay there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DeviceMemory {
    pub device: Device,
    pub gpu_index: u32,
}

impl DeviceMemory {
    pub fn info(&self) -> ort::Result<MemoryInfo<'static>> {
        match self.device {
            Device::Cpu => cpu_memory(),
            Device::Cuda => MemoryInfo::new(
                AllocationDevice::CUDA,
                self.gpu_index as i32,
                AllocatorType::Device,
                MemoryType::Default,
            ),
        }
    }
}

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
        let cpu = cpu_memory()?;
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
