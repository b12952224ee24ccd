//! Hand-checked statistics: least squares, quantiles, decimal medians.

use jevons_analytics::market::stats::{fit_linear, median_decimal, quantile_sorted};
use jevons_analytics::market::MarketError;

/// `dec!("1.5")` without the macro crate.
macro_rules! dec {
    ($s:expr) => {
        <rust_decimal::Decimal as std::str::FromStr>::from_str($s).unwrap()
    };
}

#[test]
fn regression_by_hand() {
    // x = 1,2,3,4; y = 2,3,5,6. mean x = 2.5, mean y = 4.
    // Sxx = 2.25+0.25+0.25+2.25 = 5; Sxy = 3+0.5+0.5+3 = 7 → slope = 7/5 = 1.4.
    // intercept = 4 − 1.4 × 2.5 = 0.5. Fitted 1.9, 3.3, 4.7, 6.1; residuals .1, −.3, .3, −.1.
    // SS_res = .01+.09+.09+.01 = 0.2; SS_tot = 4+1+1+4 = 10 → R² = 1 − 0.02 = 0.98.
    let f = fit_linear(&[1.0, 2.0, 3.0, 4.0], &[2.0, 3.0, 5.0, 6.0], "t").unwrap();
    assert!((f.slope - 1.4).abs() < 1e-12, "{f:?}");
    assert!((f.intercept - 0.5).abs() < 1e-12, "{f:?}");
    assert!((f.r2 - 0.98).abs() < 1e-12, "{f:?}");
    assert_eq!(f.n, 4);
    assert!((f.predict(10.0) - 14.5).abs() < 1e-12);
    assert!((f.solve_x(14.5).unwrap() - 10.0).abs() < 1e-12);
}

#[test]
fn regression_needs_two_distinct_x() {
    assert!(matches!(
        fit_linear(&[1.0], &[2.0], "t"),
        Err(MarketError::NotEnoughData { .. })
    ));
    assert!(matches!(
        fit_linear(&[3.0, 3.0], &[1.0, 2.0], "t"),
        Err(MarketError::NotEnoughData { .. })
    ));
}

#[test]
fn quantiles_interpolate() {
    let v = [1.0, 2.0, 3.0, 4.0, 5.0];
    assert_eq!(quantile_sorted(&v, 0.5), Some(3.0));
    // position 0.1 × 4 = 0.4 → 1 + 0.4 × (2 − 1) = 1.4
    assert!((quantile_sorted(&v, 0.1).unwrap() - 1.4).abs() < 1e-12);
    assert_eq!(quantile_sorted(&[], 0.5), None);
}

#[test]
fn decimal_median_is_exact() {
    assert_eq!(
        median_decimal(&[dec!("0.3"), dec!("0.1"), dec!("0.2")]),
        Some(dec!("0.2"))
    );
    assert_eq!(
        median_decimal(&[dec!("0.1"), dec!("0.2")]),
        Some(dec!("0.15"))
    );
    assert_eq!(median_decimal(&[]), None);
}
