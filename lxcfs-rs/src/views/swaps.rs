use crate::views::meminfo::MemView;

const HEADER: &str = "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n";

/// `/proc/swaps`: one virtual device sized to the container's swap limit when it has one;
/// only the header when swap is disabled (`-u`); else the host's file.
pub fn render(host_text: &str, view: &MemView, swap_limited: bool, swap_enabled: bool) -> String {
    if !swap_enabled {
        return HEADER.to_string();
    }
    if !swap_limited {
        return host_text.to_string();
    }
    let mut out = HEADER.to_string();
    if view.swap_total > 0 {
        let used = view.swap_total.saturating_sub(view.swap_free);
        out.push_str(&format!(
            "{:<40}{:<16}{:<16}{:<16}{}\n",
            "none", "virtual", view.swap_total, used, 0
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swaps_views() {
        let view = MemView {
            swap_total: 1000,
            swap_free: 400,
            ..Default::default()
        };
        let text = render("host\n", &view, true, true);
        let fields: Vec<&str> = text.lines().nth(1).unwrap().split_whitespace().collect();
        assert_eq!(fields, ["none", "virtual", "1000", "600", "0"]);
        assert_eq!(render("host\n", &view, false, true), "host\n");
        assert_eq!(render("host\n", &view, true, false), HEADER);
    }
}
