//! `bss2 layer`: evaluates single layers given in the format of the reference's `layer-cases.json`.
//!
//! Input: `{"cases": [{name, tau_mem, tau_syn, g_leak, threshold, leak, inputs[b][i], weights[i][j],
//! delays[i][j] (optional), cotangent[b][j] (optional)}]}` with `null` for a missing spike. Output:
//! `{"cases": [{name, outputs, grad_weights, grad_inputs, grad_delays}]}`: first-spike times (`null` = no
//! spike) and the gradients of `sum over b, j with a spike of cotangent[b][j] * outputs[b][j]`.

use serde_json::{Value, json};

use crate::model::{Arrival, Matrix, ModelError, NeuronParams, TauRatio, layer_backward, layer_forward};
use crate::text::Excerpt;

/// A problem with a layer-cases document, naming the case and key.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CaseError {
    /// A value is missing or malformed.
    #[error("{location}: {message}")]
    Invalid {
        /// e.g. `cases[2].weights[1][0]`.
        location: String,
        /// What is wrong.
        message: String,
    },
    /// The model cannot compute the case's gradients.
    #[error("{location}")]
    Model {
        /// The case, e.g. `cases[2]`.
        location: String,
        /// Why.
        #[source]
        source: ModelError,
    },
}

fn err(location: impl Into<String>, message: impl Into<String>) -> CaseError {
    CaseError::Invalid { location: location.into(), message: message.into() }
}

fn number(v: &Value, at: &str) -> Result<f64, CaseError> {
    v.as_f64().ok_or_else(|| err(at, format!("expected a number, found {}", Excerpt::new(&v.to_string()))))
}

fn time(v: &Value, at: &str) -> Result<f64, CaseError> {
    if v.is_null() { Ok(f64::INFINITY) } else { number(v, at) }
}

fn matrix(
    case: &Value,
    key: &str,
    at: &str,
    read: fn(&Value, &str) -> Result<f64, CaseError>,
) -> Result<Matrix, CaseError> {
    let at = format!("{at}.{key}");
    let rows = case.get(key).and_then(Value::as_array).ok_or_else(|| err(&at, "missing, or not a list of rows"))?;
    let mut parsed = Vec::with_capacity(rows.len());
    for (r, row) in rows.iter().enumerate() {
        let row = row.as_array().ok_or_else(|| err(format!("{at}[{r}]"), "expected a list"))?;
        parsed.push(
            row.iter().enumerate().map(|(c, v)| read(v, &format!("{at}[{r}][{c}]"))).collect::<Result<Vec<_>, _>>()?,
        );
    }
    Matrix::from_rows(&parsed).ok_or_else(|| err(&at, "rows have different lengths"))
}

fn param(case: &Value, key: &str, at: &str) -> Result<f64, CaseError> {
    number(case.get(key).unwrap_or(&Value::Null), &format!("{at}.{key}"))
}

fn json_times(m: &Matrix) -> Value {
    Value::Array(
        (0..m.rows)
            .map(|r| {
                Value::Array(m.row(r).iter().map(|&t| if t.is_finite() { json!(t) } else { Value::Null }).collect())
            })
            .collect(),
    )
}

fn evaluate_case(case: &Value, at: &str) -> Result<Value, CaseError> {
    let (tau_syn, tau_mem) = (param(case, "tau_syn", at)?, param(case, "tau_mem", at)?);
    let r = tau_mem / tau_syn;
    let ratio = if r == 1.0 {
        TauRatio::One
    } else if r == 2.0 {
        TauRatio::Two
    } else {
        return Err(err(format!("{at}.tau_mem"), format!("tau_mem / tau_syn = {r}; must be 1 or 2")));
    };
    let p = NeuronParams {
        tau_syn,
        tau_mem,
        g_leak: param(case, "g_leak", at)?,
        leak: param(case, "leak", at)?,
        threshold: param(case, "threshold", at)?,
        ratio,
    };
    if !(p.tau_syn > 0.0 && p.g_leak > 0.0) {
        return Err(err(at, "tau_syn and g_leak must be positive"));
    }
    let inputs = matrix(case, "inputs", at, time)?;
    let weights = matrix(case, "weights", at, number)?;
    if weights.rows != inputs.cols {
        return Err(err(
            format!("{at}.weights"),
            format!("has {} rows but there are {} inputs", weights.rows, inputs.cols),
        ));
    }
    let delays = if case.get("delays").is_some() {
        matrix(case, "delays", at, number)?
    } else {
        Matrix::zeros(weights.rows, weights.cols)
    };
    if (delays.rows, delays.cols) != (weights.rows, weights.cols) {
        return Err(err(format!("{at}.delays"), "must have the shape of weights"));
    }
    let cotangent = if case.get("cotangent").is_some() {
        matrix(case, "cotangent", at, number)?
    } else {
        Matrix::filled(inputs.rows, weights.cols, 1.0)
    };
    if (cotangent.rows, cotangent.cols) != (inputs.rows, weights.cols) {
        return Err(err(format!("{at}.cotangent"), "must have shape [samples, neurons]"));
    }
    let arrival = Arrival::Offset { base: inputs, offset: delays };
    let outputs = layer_forward(&p, &weights, &arrival, None);
    let delta = Matrix {
        rows: outputs.rows,
        cols: outputs.cols,
        data: outputs.data.iter().zip(&cotangent.data).map(|(t, c)| if t.is_finite() { *c } else { 0.0 }).collect(),
    };
    let grads = layer_backward(&p, None, &weights, &arrival, &outputs, &delta)
        .map_err(|source| CaseError::Model { location: at.into(), source })?;
    let offset = grads.input.offset.unwrap_or_else(|| Matrix::zeros(weights.rows, weights.cols));
    Ok(json!({
        "name": case.get("name").cloned().unwrap_or(Value::Null),
        "outputs": json_times(&outputs),
        "grad_weights": grads.weights.to_rows(),
        "grad_inputs": grads.input.base.to_rows(),
        "grad_delays": offset.to_rows(),
    }))
}

/// Evaluates every case of a layer-cases document.
pub fn evaluate_cases(document: &Value) -> Result<Value, CaseError> {
    let cases =
        document.get("cases").and_then(Value::as_array).ok_or_else(|| err("cases", "missing, or not a list"))?;
    let results = cases
        .iter()
        .enumerate()
        .map(|(k, case)| evaluate_case(case, &format!("cases[{k}]")))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(json!({ "cases": results }))
}
