// Flotilla console: live regions, form helpers, package upload and "Try it".
// No framework. Every page works without this file except uploading and live refresh.
"use strict";

(function () {
  const REFRESH_MS = 3000;

  function csrfToken() {
    const meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  // Live regions: <div data-live="name"> holds the page's {% block name %}. Every few seconds
  // (only while the tab is visible) fetch them all in one request and swap in what changed.
  function startLiveRegions() {
    const regions = new Map(
      Array.from(document.querySelectorAll("[data-live]")).map((el) => [el.dataset.live, el])
    );
    if (!regions.size) return;
    const last = new Map();
    const url = new URL(window.location.href);
    url.searchParams.set("fragments", Array.from(regions.keys()).join(","));
    async function refresh() {
      const response = await fetch(url, {
        headers: { "X-Requested-With": "fetch" },
        credentials: "same-origin",
        cache: "no-store",
      });
      if (response.status === 401) {
        window.location.reload(); // the session ended: the page sends us to sign in
        return;
      }
      if (!response.ok) return;
      const blocks = await response.json();
      for (const [name, html] of Object.entries(blocks)) {
        const el = regions.get(name);
        if (el && last.get(name) !== html) {
          last.set(name, html);
          el.innerHTML = html;
        }
      }
    }
    async function tick() {
      if (!document.hidden) {
        try {
          await refresh();
        } catch (error) {
          // the server may be restarting: try again on the next tick
        }
      }
      window.setTimeout(tick, REFRESH_MS);
    }
    window.setTimeout(tick, REFRESH_MS);
  }

  // Create cluster: regions follow the provider; self-managed needs neither.
  function wireClusterForm() {
    const form = document.getElementById("cluster-form");
    if (!form) return;
    const provider = form.querySelector("#cloud_provider");
    const region = form.querySelector("#region");
    function showRegions() {
      let firstVisible = null;
      for (const group of region.querySelectorAll("optgroup")) {
        const mine = group.dataset.provider === provider.value;
        group.hidden = !mine;
        group.disabled = !mine;
        if (mine && !firstVisible) firstVisible = group.querySelector("option");
      }
      const chosen = region.selectedOptions[0];
      if (!chosen || chosen.dataset.provider !== provider.value) {
        if (firstVisible) firstVisible.selected = true;
      }
    }
    function followType() {
      const selfManaged = form.querySelector("#type-self_managed").checked;
      provider.disabled = selfManaged;
      region.disabled = selfManaged;
      document.getElementById("where").classList.toggle("muted", selfManaged);
    }
    provider.addEventListener("change", showRegions);
    for (const radio of form.querySelectorAll('input[name="cluster_type"]')) {
      radio.addEventListener("change", followType);
    }
    showRegions();
    followType();
  }

  // Create nodepool: narrow the instance types by GPU, GPU type and price (chosen ones stay).
  function wireInstanceTypeFilters() {
    const table = document.getElementById("instance-types");
    if (!table) return;
    const gpu = document.getElementById("filter-gpu");
    const accel = document.getElementById("filter-accel");
    const price = document.getElementById("filter-price");
    function apply() {
      const maxPrice = price.value === "" ? Infinity : Number(price.value);
      for (const row of table.tBodies[0].rows) {
        const count = Number(row.dataset.gpu);
        const fits =
          (gpu.value === "" || (gpu.value === "yes") === count > 0) &&
          (accel.value === "" || row.dataset.accel === accel.value) &&
          Number(row.dataset.price) <= maxPrice;
        const chosen = row.querySelector('input[type="checkbox"]').checked;
        row.hidden = !(fits || chosen);
      }
    }
    for (const input of [gpu, accel, price]) input.addEventListener("input", apply);
    apply();
  }

  // Deploy: the version list follows the model.
  function wireDeployForm() {
    const form = document.getElementById("deploy-form");
    if (!form) return;
    const model = form.querySelector("#model");
    const version = form.querySelector("#model_version");
    function showVersions() {
      for (const option of version.options) {
        const mine = !option.dataset.model || option.dataset.model === model.value;
        option.hidden = !mine;
        option.disabled = !mine;
      }
      if (version.selectedOptions[0] && version.selectedOptions[0].disabled) {
        version.value = "latest";
      }
    }
    model.addEventListener("change", showVersions);
    showVersions();
  }

  function showFieldError(id, text) {
    const el = document.getElementById(id + "-error");
    const input = document.getElementById(id);
    if (el) {
      el.textContent = text || "";
      el.hidden = !text;
    }
    if (input) {
      if (text) input.setAttribute("aria-invalid", "true");
      else input.removeAttribute("aria-invalid");
    }
  }

  // Upload: the chosen file is the request body, as the API takes it.
  function wireUpload() {
    const form = document.getElementById("upload-form");
    if (!form) return;
    const idInput = form.querySelector("#model-id");
    const fileInput = form.querySelector("#package");
    const summary = document.getElementById("upload-error");
    const button = form.querySelector("#upload-button");
    fileInput.addEventListener("change", () => {
      const file = fileInput.files[0];
      if (file && !idInput.value) {
        idInput.value = file.name.replace(/\.(tar\.gz|tgz)$/i, "").replace(/[^A-Za-z0-9_-]/g, "-");
      }
    });
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      showFieldError("model-id", "");
      showFieldError("package", "");
      summary.hidden = true;
      const file = fileInput.files[0];
      if (!file) {
        showFieldError("package", "choose a .tar.gz package");
        fileInput.focus();
        return;
      }
      button.disabled = true;
      button.textContent = "Uploading…";
      try {
        const url = "/console/models?model_id=" + encodeURIComponent(idInput.value.trim());
        const response = await fetch(url, {
          method: "POST",
          body: file,
          credentials: "same-origin",
          headers: {
            "Content-Type": "application/gzip",
            "X-CSRF-Token": csrfToken(),
            "X-Requested-With": "fetch",
          },
        });
        const answer = await response.json().catch(() => ({}));
        if (response.ok && answer.redirect) {
          window.location.assign(answer.redirect);
          return;
        }
        const error = answer.error || { message: "upload failed: HTTP " + response.status };
        const fields = error.fields || {};
        summary.textContent = error.message;
        summary.hidden = false;
        showFieldError("model-id", fields.id || "");
        showFieldError("package", fields.package || (fields.id ? "" : error.message));
        (fields.id ? idInput : fileInput).focus();
      } catch (error) {
        summary.textContent = "upload failed: " + error;
        summary.hidden = false;
      } finally {
        button.disabled = false;
        button.textContent = "Upload";
      }
    });
  }

  // Try it: send the inputs through the server to the gateway, show the answer in place.
  function wireTryIt() {
    const form = document.getElementById("try-form");
    if (!form) return;
    const result = document.getElementById("try-result");
    const button = form.querySelector('button[type="submit"]');
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      showFieldError("inputs", "");
      button.disabled = true;
      result.textContent = "Sending…";
      try {
        const response = await fetch(form.action, {
          method: "POST",
          body: new URLSearchParams(new FormData(form)),
          credentials: "same-origin",
          headers: { "X-CSRF-Token": csrfToken(), "X-Requested-With": "fetch" },
        });
        const answer = await response.json();
        if (answer.error) {
          result.textContent = "";
          showFieldError("inputs", answer.error.message);
          return;
        }
        const line = document.createElement("p");
        line.textContent = "HTTP " + answer.status + " in " + answer.elapsed_ms + " ms";
        const body = document.createElement("pre");
        body.className = "output";
        body.id = "try-output";
        body.textContent = JSON.stringify(answer.body, null, 2);
        result.replaceChildren(line, body);
      } catch (error) {
        result.textContent = "The request failed: " + error;
      } finally {
        button.disabled = false;
      }
    });
  }

  function wireCopyButtons() {
    for (const button of document.querySelectorAll("[data-copy]")) {
      button.addEventListener("click", async () => {
        const source = document.querySelector(button.dataset.copy);
        try {
          await navigator.clipboard.writeText(source.textContent.trim());
          button.textContent = "Copied";
        } catch (error) {
          window.getSelection().selectAllChildren(source); // select it for Ctrl-C instead
        }
      });
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    startLiveRegions();
    wireClusterForm();
    wireInstanceTypeFilters();
    wireDeployForm();
    wireUpload();
    wireTryIt();
    wireCopyButtons();
  });
})();
