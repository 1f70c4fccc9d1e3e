//! The Start From choice: which Source frame, if any, the clip's first frame is made to be (image to
//! video, extending a shot). Saved by id in `startFromName`, as the Output transfer is.

/// `startFrom` choice, saved by [`StartFrom::id`] in `startFromName`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartFrom {
    None,
    /// The Source frame at the clip's first timeline frame.
    ClipStart,
    /// The Source frame at `startFrame`.
    Frame,
}

impl StartFrom {
    /// Menu order, frozen.
    pub const ALL: [StartFrom; 3] = [StartFrom::None, StartFrom::ClipStart, StartFrom::Frame];

    /// Stable id, saved in projects.
    pub fn id(self) -> &'static str {
        match self {
            StartFrom::None => "none",
            StartFrom::ClipStart => "clip_start",
            StartFrom::Frame => "frame",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            StartFrom::None => "None",
            StartFrom::ClipStart => "Source at Clip Start",
            StartFrom::Frame => "Source Frame",
        }
    }

    pub fn from_index(index: i32) -> Option<StartFrom> {
        usize::try_from(index)
            .ok()
            .and_then(|i| StartFrom::ALL.get(i).copied())
    }

    /// The saved choice: the id when set, else the menu index (out of range: None). An id this plugin
    /// does not know (saved by a newer one) is an error naming it.
    pub fn chosen(index: i32, id: &str) -> Result<StartFrom, String> {
        if id.is_empty() {
            return Ok(StartFrom::from_index(index).unwrap_or(StartFrom::None));
        }
        StartFrom::ALL
            .into_iter()
            .find(|s| s.id() == id)
            .ok_or_else(|| {
                let ids: Vec<_> = StartFrom::ALL.iter().map(|s| s.id()).collect();
                format!(
                    "the saved Start From `{id}` is not one this plugin offers ({}); choose one in \
                     the Start From menu",
                    ids.join(", ")
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_choice_is_read_by_id_then_index() {
        assert_eq!(StartFrom::chosen(1, ""), Ok(StartFrom::ClipStart));
        assert_eq!(StartFrom::chosen(9, ""), Ok(StartFrom::None));
        assert_eq!(StartFrom::chosen(0, "frame"), Ok(StartFrom::Frame));
        assert_eq!(StartFrom::chosen(2, "none"), Ok(StartFrom::None));
        assert_eq!(
            StartFrom::chosen(0, "last_frame"),
            Err(
                "the saved Start From `last_frame` is not one this plugin offers (none, clip_start, \
                 frame); choose one in the Start From menu"
                    .into()
            )
        );
    }
}
