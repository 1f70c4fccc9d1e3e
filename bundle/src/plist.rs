//! `Contents/Info.plist`: hosts on macOS read it; elsewhere it documents the bundle.

/// The plist for a bundle whose binary is `executable`, with the plugin's identifier and version.
pub fn info_plist(executable: &str, identifier: &str, name: &str, version: &str) -> String {
    let entries = [
        ("CFBundleDevelopmentRegion", "English"),
        ("CFBundleExecutable", executable),
        ("CFBundleIdentifier", identifier),
        ("CFBundleInfoDictionaryVersion", "6.0"),
        ("CFBundleName", name),
        ("CFBundlePackageType", "BNDL"),
        ("CFBundleShortVersionString", version),
        ("CFBundleSignature", "????"),
        ("CFBundleVersion", version),
    ];
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" \
         \"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n\
         <plist version=\"1.0\">\n<dict>\n",
    );
    for (key, value) in entries {
        out.push_str(&format!(
            "\t<key>{key}</key>\n\t<string>{}</string>\n",
            escape(value)
        ));
    }
    out.push_str("</dict>\n</plist>\n");
    out
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_executable_and_identifier() {
        let plist = info_plist(
            "TextToVideo.ofx",
            "org.texttovideo.TextToVideo",
            "Text to Video",
            "0.1.0",
        );
        assert!(plist.starts_with("<?xml version=\"1.0\""));
        assert!(plist.contains("<key>CFBundleExecutable</key>\n\t<string>TextToVideo.ofx</string>"));
        assert!(plist.contains(
            "<key>CFBundleIdentifier</key>\n\t<string>org.texttovideo.TextToVideo</string>"
        ));
        assert!(plist.contains("<key>CFBundleVersion</key>\n\t<string>0.1.0</string>"));
        assert!(plist.trim_end().ends_with("</plist>"));
    }

    #[test]
    fn escapes_markup() {
        assert_eq!(escape("a<b>&c"), "a&lt;b&gt;&amp;c");
    }
}
