//! The layer kernel against the reference implementation: `layer-cases.json` and the single-layer vectors of
//! spec §18, for both tau ratios, every arrival representation, with and without delays.

use bss2_host::model::{Arrival, Matrix, NeuronParams, TauRatio, layer_backward, layer_forward};
use serde_json::Value;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/reference");

fn times(v: &Value) -> Vec<Vec<f64>> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|row| row.as_array().unwrap().iter().map(|x| x.as_f64().unwrap_or(f64::INFINITY)).collect())
        .collect()
}

fn params(case: &Value) -> NeuronParams {
    let f = |k: &str| case[k].as_f64().unwrap();
    let ratio = if f("tau_mem") == f("tau_syn") { TauRatio::One } else { TauRatio::Two };
    NeuronParams {
        tau_syn: f("tau_syn"),
        tau_mem: f("tau_mem"),
        g_leak: f("g_leak"),
        leak: f("leak"),
        threshold: f("threshold"),
        ratio,
    }
}

fn assert_close(what: &str, got: f64, want: f64, rel: f64) {
    if want.is_infinite() || got.is_infinite() {
        assert_eq!(got, want, "{what}");
        return;
    }
    let err = (got - want).abs();
    assert!(err <= rel * want.abs().max(1e-3), "{what}: got {got}, want {want} (error {err:e})");
}

fn assert_matrix(what: &str, got: &Matrix, want: &[Vec<f64>], rel: f64) {
    assert_eq!(got.rows, want.len(), "{what}: rows");
    for (r, row) in want.iter().enumerate() {
        assert_eq!(got.cols, row.len(), "{what}: cols");
        for (c, &w) in row.iter().enumerate() {
            assert_close(&format!("{what}[{r}][{c}]"), got.get(r, c), w, rel);
        }
    }
}

/// The same times in every representation the layer accepts.
fn arrivals(inputs: &Matrix, delays: &Matrix) -> Vec<(&'static str, Arrival)> {
    let offset = Arrival::Offset { base: inputs.clone(), offset: delays.clone() };
    let dense = Arrival::Dense {
        batch: inputs.rows,
        n_pre: inputs.cols,
        n_post: delays.cols,
        times: offset.to_dense(delays.cols),
    };
    let mut all = vec![("offset", offset), ("dense", dense)];
    if delays.data.iter().all(|&d| d == 0.0) {
        all.push(("shared", Arrival::Shared(inputs.clone())));
    }
    all
}

#[test]
fn layer_cases_match_the_reference() {
    let text = std::fs::read_to_string(format!("{FIXTURES}/layer-cases.json")).unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    let cases = doc["cases"].as_array().unwrap();
    assert!(cases.len() >= 3);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let p = params(case);
        let inputs = Matrix::from_rows(&times(&case["inputs"])).unwrap();
        let weights = Matrix::from_rows(&times(&case["weights"])).unwrap();
        let delays = Matrix::from_rows(&times(&case["delays"])).unwrap();
        let cotangent = Matrix::from_rows(&times(&case["cotangent"])).unwrap();
        for (kind, arrival) in arrivals(&inputs, &delays) {
            let what = format!("{name}/{kind}");
            let out = layer_forward(&p, &weights, &arrival, None);
            assert_matrix(&format!("{what} outputs"), &out, &times(&case["outputs"]), 1e-10);
            let grads = layer_backward(&p, None, &weights, &arrival, &out, &cotangent).unwrap();
            assert_matrix(&format!("{what} grad_weights"), &grads.weights, &times(&case["grad_weights"]), 1e-10);
            assert_matrix(&format!("{what} grad_inputs"), &grads.input.base, &times(&case["grad_inputs"]), 1e-10);
            if let Some(offset) = &grads.input.offset {
                assert_matrix(&format!("{what} grad_delays"), offset, &times(&case["grad_delays"]), 1e-10);
            }
        }
    }
}

/// Spec §18, single layer: one sample, the 4th input missing, L = sum of the finite outputs.
#[test]
fn single_layer_vectors_of_spec_18() {
    let inputs = Matrix::from_rows(&[vec![0.3, 1.0, 0.5, f64::INFINITY]]).unwrap();
    let weights = Matrix::from_rows(&[
        vec![3.0, 0.3, 0.5, 4.0],
        vec![1.0, 0.2, 3.0, 1.0],
        vec![-0.5, 0.1, 0.2, 1.0],
        vec![2.0, 5.0, 0.1, 1.0],
    ])
    .unwrap();
    let ratio_two =
        NeuronParams { tau_syn: 1.0, tau_mem: 2.0, g_leak: 0.5, leak: 0.0, threshold: 1.0, ratio: TauRatio::Two };
    let ratio_one =
        NeuronParams { tau_syn: 1.0, tau_mem: 1.0, g_leak: 1.0, leak: 0.0, threshold: 1.0, ratio: TauRatio::One };
    let inf = f64::INFINITY;
    let cases = [
        (
            ratio_two,
            None,
            vec![0.895537590502394, inf, 1.2769628620502782, 0.5846664251703528],
            vec![
                vec![-0.467990542287836, 0.0, -0.230822345797406, -0.0671359890611058],
                vec![0.0, 0.0, -0.109613385112407, 0.0],
                vec![-0.360382821383165, 0.0, -0.212501714396714, -0.0231814413560664],
                vec![0.0; 4],
            ],
            vec![2.09936257773197, 0.942574464599974, -0.0419373816432478, 0.0],
        ),
        (
            ratio_one,
            None,
            vec![1.095686399501591, inf, 1.3526941773358336, 0.6071686102720809],
            vec![
                vec![-0.363810449490336, 0.0, -0.268532177970199, -0.0795395827311776],
                vec![-0.088102774361031, 0.0, -0.181175112952326, 0.0],
                vec![-0.332667071426623, 0.0, -0.265672319386109, -0.0338947918189417],
                vec![0.0; 4],
            ],
            vec![0.991152230888514, 1.83018383783986, 0.178663235446822, 0.0],
        ),
        (
            // max_dw_norm 0.3 drops column 0 (its largest entry is 0.364); input gradients are kept.
            ratio_one,
            Some(0.3),
            vec![1.095686399501591, inf, 1.3526941773358336, 0.6071686102720809],
            vec![
                vec![0.0, 0.0, -0.268532177970199, -0.0795395827311776],
                vec![0.0, 0.0, -0.181175112952326, 0.0],
                vec![0.0, 0.0, -0.265672319386109, -0.0338947918189417],
                vec![0.0; 4],
            ],
            vec![0.991152230888514, 1.83018383783986, 0.178663235446822, 0.0],
        ),
    ];
    for (p, max_dw_norm, want_out, want_dw, want_dt) in cases {
        for (kind, arrival) in arrivals(&inputs, &Matrix::zeros(4, 4)) {
            let what = format!("{:?}/{kind}/{max_dw_norm:?}", p.ratio);
            let out = layer_forward(&p, &weights, &arrival, None);
            assert_matrix(&format!("{what} T"), &out, std::slice::from_ref(&want_out), 1e-12);
            let delta = out.map(|t| if t.is_finite() { 1.0 } else { 0.0 });
            let grads = layer_backward(&p, max_dw_norm, &weights, &arrival, &out, &delta).unwrap();
            // The spec prints 15 significant digits.
            assert_matrix(&format!("{what} dW"), &grads.weights, &want_dw, 1e-12);
            assert_matrix(&format!("{what} dt"), &grads.input.base, std::slice::from_ref(&want_dt), 1e-12);
        }
    }
}
