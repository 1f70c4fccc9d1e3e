//! OpenFX 1.5 colour management. A host that offers it learns which colourspace the output is in
//! (GetOutputColourspace), and gets the one it asks for when that is one the plugin makes (sRGB or
//! linear, both Rec.709 primaries); renders then write what the host was told: the output clip's
//! `kOfxImageClipPropColourspace`. Hosts without colour management get the Output transfer parameter's
//! choice, undeclared, as before.

use std::ffi::CStr;

use ofx_sys::*;

use crate::ofx::{effect::Effect, props::PropSet, OfxStatus, Result};
use crate::settings::read_transfer;
use crate::transfer::Transfer;

/// The styles of `kOfxImageEffectPropColourManagementStyle`, weakest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Style {
    None,
    Basic,
    Core,
    Full,
    Ocio,
}

impl Style {
    fn parse(name: &str) -> Style {
        [
            (kOfxImageEffectColourManagementBasic, Style::Basic),
            (kOfxImageEffectColourManagementCore, Style::Core),
            (kOfxImageEffectColourManagementFull, Style::Full),
            (kOfxImageEffectColourManagementOCIO, Style::Ocio),
        ]
        .into_iter()
        .find(|(n, _)| n.to_bytes() == name.as_bytes())
        .map_or(Style::None, |(_, s)| s)
    }

    /// The style set on `props` (a host descriptor or an instance); none when missing.
    fn of(props: PropSet) -> Style {
        props
            .get_string(kOfxImageEffectPropColourManagementStyle, 0)
            .map_or(Style::None, |name| Style::parse(&name))
    }
}

/// Describe: where the host manages colour, says the plugin does too, at the core style (it names only
/// basic and core colourspaces of the native config). A host that refuses still gets a working plugin.
pub fn declare(effect: &Effect, plugin: PropSet) {
    if Style::of(effect.suites.host()) == Style::None {
        return;
    }
    let declared = plugin
        .set_c_string(
            kOfxImageEffectPropColourManagementStyle,
            0,
            kOfxImageEffectColourManagementCore,
        )
        .and_then(|()| {
            plugin.set_c_string(
                kOfxImageEffectPropColourManagementAvailableConfigs,
                0,
                kOfxConfigIdentifier,
            )
        });
    if let Err(e) = declared {
        log::debug!("Text to Video: host ignored colour management: {e}");
    }
}

/// The name declared for `transfer`. The core names say the primaries (Rec.709); the basic style allows
/// only the generic ones, and so does OCIO (the host's config need not have the core names, the basic
/// ones are always valid).
fn colourspace(transfer: Transfer, style: Style) -> &'static CStr {
    match (transfer, style) {
        (Transfer::Srgb, Style::Core | Style::Full) => kOfxColourspaceSrgbTx,
        (Transfer::Linear, Style::Core | Style::Full) => kOfxColourspaceLinRec709Srgb,
        (Transfer::Srgb, _) => kOfxColourspaceOfxDisplaySdr,
        (Transfer::Linear, _) => kOfxColourspaceOfxSceneLinear,
    }
}

/// What a host's colourspace name asks for, if the plugin makes it.
fn transfer_of(name: &str) -> Option<Transfer> {
    let is = |space: &CStr| space.to_bytes() == name.as_bytes();
    if is(kOfxColourspaceSrgbTx) || is(kOfxColourspaceOfxDisplaySdr) {
        Some(Transfer::Srgb)
    } else if is(kOfxColourspaceLinRec709Srgb) || is(kOfxColourspaceOfxSceneLinear) {
        Some(Transfer::Linear)
    } else {
        None
    }
}

/// The output transfer for a host's preferred list: its first one the plugin makes (the spec's "first
/// mutually agreeable"; the host converts whichever it gets), else the user's choice.
fn pick(preferred: &[String], chosen: Transfer) -> Transfer {
    preferred
        .iter()
        .find_map(|name| transfer_of(name))
        .unwrap_or(chosen)
}

/// GetOutputColourspace: kOfxStatReplyDefault where the host chose no colour management for the
/// instance.
pub fn output_colourspace(effect: &Effect, in_args: PropSet, out: PropSet) -> Result<OfxStatus> {
    let style = Style::of(effect.props()?);
    if style == Style::None {
        return Ok(kOfxStatReplyDefault);
    }
    let chosen = read_transfer(&effect.params()?, 0.0)?;
    let preferred = in_args.get_strings(kOfxImageClipPropPreferredColourspaces);
    let space = colourspace(pick(&preferred, chosen), style);
    out.set_c_string(kOfxImageClipPropColourspace, 0, space)?;
    Ok(kOfxStatOK)
}

/// The transfer a render writes: the one the output clip was declared in when the host manages colour,
/// else the user's choice.
pub fn render_transfer(effect: &Effect, output: PropSet, chosen: Transfer) -> Transfer {
    let managed = effect
        .props()
        .is_ok_and(|props| Style::of(props) != Style::None);
    if !managed {
        return chosen;
    }
    output
        .get_string(kOfxImageClipPropColourspace, 0)
        .ok()
        .and_then(|name| transfer_of(&name))
        .unwrap_or(chosen)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn styles_parse_and_order() {
        assert_eq!(
            Style::parse("OfxImageEffectColourManagementCore"),
            Style::Core
        );
        assert_eq!(
            Style::parse("OfxImageEffectColourManagementOCIO"),
            Style::Ocio
        );
        assert_eq!(
            Style::parse("OfxImageEffectColourManagementNone"),
            Style::None
        );
        assert_eq!(Style::parse("something else"), Style::None);
        assert!(Style::Basic < Style::Core && Style::Full < Style::Ocio);
    }

    #[test]
    fn declared_names_follow_the_style() {
        let name = |t, s| colourspace(t, s).to_str().unwrap();
        assert_eq!(name(Transfer::Srgb, Style::Core), "srgb_tx");
        assert_eq!(name(Transfer::Linear, Style::Full), "lin_rec709_srgb");
        assert_eq!(name(Transfer::Srgb, Style::Basic), "ofx_display_sdr");
        assert_eq!(name(Transfer::Linear, Style::Ocio), "ofx_scene_linear");
    }

    #[test]
    fn the_first_colourspace_the_plugin_makes_wins() {
        let pick_of = |list: &[&str], chosen| pick(&names(list), chosen);
        assert_eq!(
            pick_of(&["acescg", "lin_rec709_srgb", "srgb_tx"], Transfer::Srgb),
            Transfer::Linear
        );
        assert_eq!(
            pick_of(&["ofx_display_sdr"], Transfer::Linear),
            Transfer::Srgb
        );
        assert_eq!(
            pick_of(&["ofx_scene_linear"], Transfer::Srgb),
            Transfer::Linear
        );
        // Names that are not exactly ours (roles, other primaries, other cases) are not ours.
        for other in [
            "scene_linear",
            "acescg",
            "LIN_REC709_SRGB",
            "srgb_display",
            "",
        ] {
            assert_eq!(pick_of(&[other], Transfer::Srgb), Transfer::Srgb, "{other}");
            assert_eq!(
                pick_of(&[other], Transfer::Linear),
                Transfer::Linear,
                "{other}"
            );
        }
        assert_eq!(pick_of(&[], Transfer::Linear), Transfer::Linear);
    }
}
