//! Kubernetes resource quantities (`3800m`, `4`, `16Gi`, `1600000Ki`, `2e3`)
//! as plain numbers, for comparing a cluster's allocatable resources
//! with what the product needs.

/// CPU in thousandths of a core: `4` → 4000, `3800m` → 3800.
pub fn cpu_millis(q: &str) -> Option<u64> {
    let q = q.trim();
    if let Some(m) = q.strip_suffix('m') {
        return m.parse().ok();
    }
    let v: f64 = q.parse().ok()?;
    (v >= 0.0).then(|| (v * 1000.0).round() as u64)
}

/// Memory in bytes: `16Gi`, `16G`, `1600000Ki`, `123456`, `1e9`.
pub fn bytes(q: &str) -> Option<u64> {
    let q = q.trim();
    const SUFFIXES: &[(&str, f64)] = &[
        ("Ki", 1024.0),
        ("Mi", 1024.0 * 1024.0),
        ("Gi", 1024.0 * 1024.0 * 1024.0),
        ("Ti", 1024.0 * 1024.0 * 1024.0 * 1024.0),
        ("Pi", 1024.0 * 1024.0 * 1024.0 * 1024.0 * 1024.0),
        ("k", 1e3),
        ("M", 1e6),
        ("G", 1e9),
        ("T", 1e12),
        ("P", 1e15),
        ("m", 1e-3),
    ];
    for (suffix, factor) in SUFFIXES {
        if let Some(n) = q.strip_suffix(suffix) {
            let v: f64 = n.parse().ok()?;
            return (v >= 0.0).then(|| (v * factor) as u64);
        }
    }
    let v: f64 = q.parse().ok()?;
    (v >= 0.0).then_some(v as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu() {
        assert_eq!(cpu_millis("4"), Some(4000));
        assert_eq!(cpu_millis("3800m"), Some(3800));
        assert_eq!(cpu_millis("0.5"), Some(500));
        assert_eq!(cpu_millis("lots"), None);
    }

    #[test]
    fn memory() {
        assert_eq!(bytes("16Gi"), Some(16 << 30));
        assert_eq!(bytes("1600000Ki"), Some(1_638_400_000));
        assert_eq!(bytes("2G"), Some(2_000_000_000));
        assert_eq!(bytes("1e9"), Some(1_000_000_000));
        assert_eq!(bytes("123456"), Some(123_456));
        assert_eq!(bytes("-1Gi"), None);
        assert_eq!(bytes("Gi"), None);
    }
}
