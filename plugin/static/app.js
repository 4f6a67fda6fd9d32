// A little JavaScript on top of pages that work without it.
"use strict";

// The switcher: picking a company from the list goes there at once.
document.addEventListener("change", (event) => {
  if (event.target.id === "switch-company" && event.target.value) event.target.form.submit();
});

// Live progress of a resync: <progress data-job="ID"> follows GET /api/v1/jobs/ID.
function follow(bar) {
  const label = document.getElementById(bar.dataset.label);
  const tick = async () => {
    const response = await fetch(`/api/v1/jobs/${bar.dataset.job}`, { credentials: "same-origin" });
    if (!response.ok) return;
    const job = await response.json();
    const { done, total } = job.progress || {};
    // "failed" and "parked" jobs run again (a retry, access restored): keep following them.
    const finished = ["succeeded", "dead"].includes(job.state);
    if (total) { bar.max = total; bar.value = Math.min(done, total); }
    if (job.state === "succeeded") { bar.max = bar.max || 1; bar.value = bar.max; }
    const percent = bar.max ? Math.round((100 * bar.value) / bar.max) : 0;
    const names = label ? JSON.parse(label.dataset.states || "{}") : {};
    if (label) label.textContent = `${percent} % · ${names[job.state] || job.state}`;
    bar.dataset.state = job.state;
    if (!finished) setTimeout(tick, ["failed", "parked"].includes(job.state) ? 5000 : 500);
  };
  tick();
}
document.querySelectorAll("progress[data-job]").forEach(follow);

// Bulk approval: "select all" ticks every box of its form.
document.querySelectorAll("input[data-select-all]").forEach((all) => {
  all.addEventListener("change", () => {
    all.form.querySelectorAll("input[name=invoice]").forEach((box) => { box.checked = all.checked; });
  });
});
