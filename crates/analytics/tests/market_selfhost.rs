//! The roofline against a worked example (numbers by hand), speculative decoding, the memory
//! check, the API comparison and bad inputs.

use jevons_analytics::market::gpu::{bundled_gpus, find_gpu};
use jevons_analytics::market::price_point::PriceSet;
use jevons_analytics::market::roofline::{
    expected_tokens_per_step, roofline, ModelShape, Quant, Serving,
};
use jevons_analytics::market::selfhost::{selfhost, SelfHostInput};
use jevons_analytics::market::{BlendRatio, MarketError, PricePoint};
use rust_decimal::Decimal;
use std::str::FromStr;

fn d(s: &str) -> Decimal {
    match Decimal::from_str(s) {
        Ok(v) => v,
        Err(e) => panic!("bad decimal {s}: {e}"),
    }
}

/// A 70B dense model with Llama-3.1-70B's KV shape: 80 layers × 2 (K, V) × 8 KV heads × 128
/// dims × 2 bytes = 327,680 bytes per token.
fn shape70() -> ModelShape {
    ModelShape {
        name: "dense-70b".into(),
        total_b: 70.0,
        active_b: 70.0,
        kv_bytes_per_token: 327_680.0,
        kv_source: "test".into(),
    }
}

fn serving() -> Serving {
    Serving {
        gpus: 2,
        quant: Quant::Fp8,
        batch: 16,
        context_tokens: 4096,
        spec_accept: None,
        spec_tokens: 4,
        mbu: 0.8,
        mfu: 0.5,
        memory_usable: 0.9,
    }
}

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * b.abs()
}

#[test]
fn h100_table_row() {
    let gpus = bundled_gpus().unwrap();
    let h = find_gpu(&gpus, "h100").unwrap();
    assert_eq!(
        (h.memory_gb, h.bandwidth_tb_s, h.bf16_tflops, h.fp8_tflops),
        (80.0, 3.35, 989.5, Some(1979.0))
    );
    assert_eq!(find_gpu(&gpus, "H100 SXM").unwrap().name, "H100 SXM");
    assert!(find_gpu(&gpus, "A100-80GB").unwrap().fp8_tflops.is_none());
}

#[test]
fn roofline_worked_example() {
    // 2 × H100 SXM, FP8 weights (1 byte/param), batch 16, 4,096 tokens of context each.
    // weights = 70e9 × 1 B = 70.0 GB
    // KV = 16 × 4,096 × 327,680 B = 21,474,836,480 B ≈ 21.47 GB
    // usable = 2 × 80 GB × 0.9 = 144 GB ≥ 91.47 GB: fits.
    // bytes per decode step = 70e9 + 21,474,836,480 = 91,474,836,480 B
    // bandwidth = 2 × 3.35e12 B/s × MBU 0.8 = 5.36e12 B/s → t_mem = 0.0170662 s
    // compute = 2 × 70e9 × 16 = 2.24e12 FLOP / (2 × 1979e12 × MFU 0.5 = 1.979e15) = 0.00113188 s
    // memory-bound: decode = 16 / 0.0170662 = 937.53 tok/s
    // prefill = 1.979e15 / (2 × 70e9) = 14,135.71 tok/s
    let gpus = bundled_gpus().unwrap();
    let h = find_gpu(&gpus, "H100").unwrap();
    let r = roofline(&shape70(), h, &serving()).unwrap();
    assert!(close(r.weights_gb, 70.0, 1e-12));
    assert!(close(r.kv_gb, 21.474_836_48, 1e-12));
    assert!(close(r.usable_gb, 144.0, 1e-12));
    assert!(close(r.bytes_per_step, 91_474_836_480.0, 1e-12));
    assert!(close(r.step_s_memory, 0.017_066_200_835_8, 1e-9));
    assert!(close(r.step_s_compute, 0.001_131_884_790_3, 1e-9));
    assert!(r.memory_bound);
    assert!(close(r.decode_tok_s, 937.525_589_55, 1e-9));
    assert!(close(r.prefill_tok_s, 14_135.714_285_7, 1e-9));

    // Cost at $2.50/GPU-hour, 50 % utilization:
    // output = 2.5 × 2 / (937.5256 × 3600 × 0.5) × 1e6 = $2.96288 per Mtok
    // input  = 5 / (14,135.714 × 1800) × 1e6 = $0.196508 per Mtok
    // API fixture: cheapest blended (3:1) = (3 × 0.2 + 0.6)/4 = 0.3.
    // self-host blended = (3 × 0.1965078 + 2.9628821)/4 = (0.5895233 + 2.9628821)/4 = 0.8881014
    // at U = 0.5 → at U = 1: 0.444051 → break-even U = 0.444051 / 0.3 = 1.48017 (> 1: cannot match).
    // Against the median provider (blended (0.3 + 0.9)/2 = 0.6): 0.444051 / 0.6 = 0.740085.
    let set = PriceSet::new(
        vec![
            PricePoint::new("p1", "p1/x", "dense-70b", d("0.2"), d("0.6")),
            PricePoint::new("p2", "p2/x", "dense-70b", d("0.9"), d("0.9")),
        ],
        "fixture",
    );
    let input = SelfHostInput {
        gpu_hour_usd: d("2.50"),
        utilization: 0.5,
        serving: serving(),
        ratio: BlendRatio::default(),
    };
    let rep = selfhost(&shape70(), h, &input, &set, Some("dense-70b")).unwrap();
    // Estimates are rounded to 6 decimal places: 2.962882, 0.196508; blended
    // (3 × 0.196508 + 2.962882)/4 = 0.8881015 → 0.888102 (round half to even).
    assert_eq!(rep.cost.output, d("2.962882"));
    assert_eq!(rep.cost.input, d("0.196508"));
    assert_eq!(rep.cost.blended, d("0.888102"));
    let api = rep.api.as_ref().unwrap();
    assert_eq!(api.blended.min, d("0.3"));
    assert_eq!(api.cheapest, vec!["p1".to_string()]);
    assert!(
        close(rep.break_even_utilization.unwrap(), 1.480_169, 1e-5),
        "{:?}",
        rep.break_even_utilization
    );
    assert!(close(
        rep.break_even_utilization_vs_median.unwrap(),
        0.740_085,
        1e-5
    ));
}

#[test]
fn speculative_decoding_multiplies_tokens_per_step() {
    // r = 0.7, k = 4: (1 − 0.7^5)/(1 − 0.7) = (1 − 0.16807)/0.3 = 2.7731
    assert!(close(expected_tokens_per_step(0.7, 4), 2.7731, 1e-12));
    assert_eq!(expected_tokens_per_step(0.0, 4), 1.0);
    // compute now verifies 5 tokens/seq/step: 5 × 0.00113188 = 0.00565942 s < t_mem, so still
    // memory-bound: decode = 16 × 2.7731 / 0.0170662 = 2,599.85 tok/s
    let gpus = bundled_gpus().unwrap();
    let s = Serving {
        spec_accept: Some(0.7),
        ..serving()
    };
    let r = roofline(&shape70(), find_gpu(&gpus, "h100").unwrap(), &s).unwrap();
    assert!(
        close(r.decode_tok_s, 2_599.852_212, 1e-8),
        "{}",
        r.decode_tok_s
    );
}

#[test]
fn does_not_fit_suggests_more_gpus() {
    // FP16 70B = 140 GB of weights on one H100 (72 GB usable).
    let gpus = bundled_gpus().unwrap();
    let s = Serving {
        gpus: 1,
        quant: Quant::Fp16,
        ..serving()
    };
    let e = roofline(&shape70(), find_gpu(&gpus, "h100").unwrap(), &s).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, MarketError::DoesNotFit { .. }));
    assert!(
        msg.contains("--gpus 3") && msg.contains("smaller --quant"),
        "{msg}"
    );
}

#[test]
fn bad_inputs_are_clear_errors() {
    let gpus = bundled_gpus().unwrap();
    let e = find_gpu(&gpus, "rtx-9090").unwrap_err();
    assert!(e.to_string().contains("known GPUs are H100 SXM"), "{e}");
    let h = find_gpu(&gpus, "h100").unwrap();
    let set = PriceSet::default();
    let base = SelfHostInput {
        gpu_hour_usd: d("2"),
        utilization: 0.5,
        serving: serving(),
        ratio: BlendRatio::default(),
    };
    let e = selfhost(
        &shape70(),
        h,
        &SelfHostInput {
            utilization: 0.0,
            ..base
        },
        &set,
        None,
    )
    .unwrap_err();
    assert!(e.to_string().contains("--utilization"), "{e}");
    let e = selfhost(
        &shape70(),
        h,
        &SelfHostInput {
            utilization: 1.5,
            ..base
        },
        &set,
        None,
    )
    .unwrap_err();
    assert!(e.to_string().contains("--utilization"), "{e}");
    let e = selfhost(
        &shape70(),
        h,
        &SelfHostInput {
            gpu_hour_usd: d("-1"),
            ..base
        },
        &set,
        None,
    )
    .unwrap_err();
    assert!(e.to_string().contains("--gpu-hour-usd"), "{e}");
    let e = roofline(
        &shape70(),
        h,
        &Serving {
            spec_accept: Some(1.0),
            ..serving()
        },
    )
    .unwrap_err();
    assert!(e.to_string().contains("--spec-accept"), "{e}");
    let e = roofline(
        &shape70(),
        h,
        &Serving {
            gpus: 0,
            ..serving()
        },
    )
    .unwrap_err();
    assert!(e.to_string().contains("--gpus"), "{e}");
    assert!("int3".parse::<Quant>().is_err());
    // No API price for the model: the report still comes, without a break-even.
    let rep = selfhost(&shape70(), h, &base, &set, Some("nope")).unwrap();
    assert!(rep.api.is_none() && rep.break_even_utilization.is_none());
}
