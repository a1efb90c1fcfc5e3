//! `twin dispatch` and `twin run --schedule` from the command line (issue 13): the sample's
//! comparison runs end to end; bad rules, bad parameters, bad policies and schedules that do not
//! match the plant get a located error, exit 2, and nothing written.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn twin(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_twin"))
        .args(args)
        .output()
        .expect("twin runs")
}

fn sample() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios/samples/job_shop.toml")
        .display()
        .to_string()
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("twin-dispatch-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn refused(out: &Output, needles: &[&str]) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(out.status.code(), Some(2), "exit code; stderr:\n{err}");
    for n in needles {
        assert!(err.contains(n), "missing {n:?} in:\n{err}");
    }
    assert!(out.stdout.is_empty(), "nothing on stdout");
}

#[test]
fn the_sample_comparison_runs_and_reports_plan_adherence() {
    let out = twin(&[
        "dispatch",
        &sample(),
        "--policies",
        "fifo,atc,plan",
        "--replications",
        "3",
        "--json",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    let names: Vec<&str> = doc["variants"]
        .as_array()
        .expect("variants")
        .iter()
        .map(|v| v["name"].as_str().expect("name"))
        .collect();
    assert_eq!(names, ["fifo", "atc(k=2)", "plan"]);
    let plan = &doc["variants"][2]["kpis"];
    let kpi = |k: &str| {
        plan.as_array()
            .unwrap()
            .iter()
            .find(|e| e["kpi"] == k)
            .map(|e| e["mean"].as_f64().unwrap())
    };
    assert!(
        kpi("policy.start_deviation_p95_s").is_some(),
        "plan adherence in the report"
    );
    assert!(kpi("policy.operations_begun").unwrap() > 0.0);
}

#[test]
fn a_schedule_written_by_twin_schedule_runs_with_its_adherence() {
    let dir = scratch("good");
    let plan = dir.join("plan.json");
    let out = twin(&[
        "schedule",
        &sample(),
        "--split",
        "unit",
        "--objective",
        "twt",
        "--iterations",
        "500",
        "--out",
        plan.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = twin(&[
        "run",
        &sample(),
        "--schedule",
        plan.to_str().unwrap(),
        "--replications",
        "2",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        text.contains("plan adherence") && text.contains("start deviation p95"),
        "{text}"
    );
    // The same plan with an order that is not the plant's, a station that is not, and a
    // missing unit: located, exit 2, nothing run.
    let good = std::fs::read_to_string(&plan).unwrap();
    for (what, from, to, needle) in [
        (
            "order",
            "\"order\": \"J01\"",
            "\"order\": \"J99\"",
            "unknown order 'J99'",
        ),
        (
            "station",
            "\"station\": \"M10\"",
            "\"station\": \"M11\"",
            "unknown station 'M11'",
        ),
    ] {
        assert!(good.contains(from), "{what}");
        let bad = dir.join(format!("bad-{what}.json"));
        std::fs::write(&bad, good.replacen(from, to, 1)).unwrap();
        let trace = dir.join("trace.csv");
        let out = twin(&[
            "run",
            &sample(),
            "--schedule",
            bad.to_str().unwrap(),
            "--trace",
            trace.to_str().unwrap(),
        ]);
        refused(&out, &[&format!("{}:", bad.display()), needle]);
        assert!(!trace.exists(), "no trace");
    }
    // Drop one operation: a step left unplanned.
    let mut doc: serde_json::Value = serde_json::from_str(&good).unwrap();
    doc["operations"].as_array_mut().unwrap().remove(0);
    let bad = dir.join("bad-missing.json");
    std::fs::write(&bad, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
    let out = twin(&["run", &sample(), "--schedule", bad.to_str().unwrap()]);
    refused(&out, &["is not planned"]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_rules_and_parameters_in_the_plant_file_are_located() {
    let dir = scratch("rules");
    let file = dir.join("plant.toml");
    let text = std::fs::read_to_string(sample()).unwrap();
    let name = "name = \"M10\"\n";
    assert!(text.contains(name));
    for (what, line, needles) in [
        (
            "unknown",
            "dispatch = \"atcx\"\n",
            &["unknown dispatching rule 'atcx'", "did you mean 'atc'"][..],
        ),
        (
            "k",
            "dispatch = { rule = \"atc\", k = 0 }\n",
            &["k must be a number > 0, got 0"][..],
        ),
        (
            "param",
            "dispatch = { rule = \"edd\", k = 2 }\n",
            &["rule 'edd' has no parameter 'k'"][..],
        ),
    ] {
        std::fs::write(&file, text.replacen(name, &format!("{name}{line}"), 1)).unwrap();
        let trace = dir.join("trace.csv");
        let out = twin(&["run", file.to_str().unwrap(), "--trace", trace.to_str().unwrap()]);
        let mut n = needles.to_vec();
        let at = format!("{}:", file.display());
        n.push(&at);
        refused(&out, &n);
        assert!(!trace.exists(), "{what}: no trace");
        let out = twin(&["dispatch", file.to_str().unwrap(), "--replications", "2"]);
        refused(&out, needles);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_policies_are_refused() {
    let out = twin(&["dispatch", &sample(), "--policies", "fifo,atc(k=-1)"]);
    refused(&out, &["k must be a number > 0"]);
    let out = twin(&["dispatch", &sample(), "--policies", "fifo,plann"]);
    refused(&out, &["unknown policy 'plann'", "did you mean 'plan'"]);
}

#[test]
fn bad_reschedule_settings_are_located() {
    let dir = scratch("reschedule");
    let file = dir.join("plant.toml");
    let text = std::fs::read_to_string(sample()).unwrap();
    let frozen = "frozen = \"30min\"\n";
    assert!(text.contains(frozen));
    let at = format!("{}:", file.display());
    for (what, line, needles) in [
        (
            "period",
            "period = \"0s\"\n",
            &["[reschedule] period must be > 0, got 0s"][..],
        ),
        (
            "negative period",
            "period = -5\n",
            &["[reschedule] period: ", "is negative"][..],
        ),
        (
            "deviation",
            "deviation = 0\n",
            &["[reschedule] deviation must be > 0"][..],
        ),
        (
            "trigger",
            "triggers = [\"breakdwn\"]\n",
            &["unknown trigger 'breakdwn'", "did you mean 'breakdown'"][..],
        ),
    ] {
        let body = text.replacen("triggers = [\"breakdown\", \"repair\"]\n", "", 1);
        std::fs::write(&file, body.replacen(frozen, &format!("{frozen}{line}"), 1)).unwrap();
        let out = twin(&["dispatch", file.to_str().unwrap(), "--policies", "plan,plan+resolve"]);
        let mut n = needles.to_vec();
        n.push(&at);
        refused(&out, &n);
        let _ = what;
    }
    // A frozen horizon longer than the plan (the sample's plan ends within three weeks).
    std::fs::write(&file, text.replacen(frozen, "frozen = \"400d\"\n", 1)).unwrap();
    let out = twin(&[
        "dispatch",
        file.to_str().unwrap(),
        "--policies",
        "plan,plan+resolve",
        "--replications",
        "2",
    ]);
    let line = text[..text.find(frozen).unwrap()].lines().count() + 1;
    let located = format!("{}:{line}:", file.display());
    refused(&out, &["[reschedule] frozen (400d", "longer than the plan", &located]);
    // Rescheduling needs a unit plan.
    let out = twin(&["dispatch", &sample(), "--policies", "plan,plan(lot)+resolve"]);
    refused(&out, &["unknown policy 'plan(lot)+resolve'"]);
    let _ = std::fs::remove_dir_all(&dir);
}
