/* The unit workspace's daily chart: dispatched vs disposed per day of the month, drawn
   with the vendored ECharts from the JSON the page carries (the same figures are in the
   table under the chart, for screen readers and without JavaScript). */
(function () {
  "use strict";
  var holder = document.getElementById("unit-chart");
  var source = document.getElementById("unit-chart-data");
  if (!holder || !source || typeof echarts === "undefined") return;
  var data = JSON.parse(source.textContent);
  var chart = echarts.init(holder, null, { renderer: "canvas" });
  chart.setOption({
    animation: false,
    color: ["#0b6e4f", "#f0b429"],
    tooltip: { trigger: "axis" },
    legend: { top: 0, data: [data.labels.dispatched, data.labels.disposed] },
    grid: { left: 36, right: 16, top: 32, bottom: 28 },
    xAxis: { type: "category", data: data.days, axisTick: { alignWithLabel: true } },
    yAxis: { type: "value", minInterval: 1 },
    series: [
      { name: data.labels.dispatched, type: "bar", data: data.dispatched },
      { name: data.labels.disposed, type: "line", data: data.disposed, symbolSize: 6 }
    ]
  });
  holder.dataset.ready = "true";
  window.addEventListener("resize", function () { chart.resize(); });
})();
