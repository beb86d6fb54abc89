<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="zh_CN" sourcelanguage="en">
<context>
    <name>App</name>
    <message>
        <source>No UPS found</source>
        <translation>未找到 UPS</translation>
    </message>
    <message>
        <source>Upsight found no UPS on this computer: none on USB or serial ports, no NUT server on this computer.

You can try Upsight with a Simulated UPS. Its readings are made up and it is labelled “Simulated UPS” everywhere.</source>
        <translation>Upsight 在这台电脑上没有找到 UPS：USB 和串口上都没有，本机也没有 NUT 服务器。

您可以用模拟 UPS 试用 Upsight。它的读数是虚构的，并且在各处都标注为“模拟 UPS”。</translation>
    </message>
    <message>
        <source>Use a &amp;Simulated UPS</source>
        <translation>使用模拟 UPS(&amp;S)</translation>
    </message>
    <message>
        <source>&amp;Quit</source>
        <translation>退出(&amp;Q)</translation>
    </message>
    <message>
        <source>Upsight could not start monitoring: {error}</source>
        <translation>Upsight 无法开始监控：{error}</translation>
    </message>
</context>
<context>
    <name>Bridge</name>
    <message>
        <source>Monitoring in this app</source>
        <translation>由本应用监控</translation>
    </message>
    <message>
        <source>Upsight is still starting</source>
        <translation>Upsight 仍在启动</translation>
    </message>
    <message>
        <source>Connected to the Upsight service</source>
        <translation>已连接到 Upsight 服务</translation>
    </message>
    <message>
        <source>Lost the connection to the service; retrying</source>
        <translation>与服务的连接已断开，正在重试</translation>
    </message>
</context>
<context>
    <name>ChoiceRow</name>
    <message>
        <source>Why: {name}</source>
        <translation>用途说明：{name}</translation>
    </message>
    <message>
        <source>Allow</source>
        <translation>允许</translation>
    </message>
    <message>
        <source>Allow {name}</source>
        <translation>允许{name}</translation>
    </message>
    <message>
        <source>Don&apos;t allow</source>
        <translation>不允许</translation>
    </message>
    <message>
        <source>Don&apos;t allow {name}</source>
        <translation>不允许{name}</translation>
    </message>
    <message>
        <source>Note: {name}</source>
        <translation>注意：{name}</translation>
    </message>
    <message>
        <source>Your organization suggests allowing this; you may say no.</source>
        <translation>您的组织建议允许此项；您可以拒绝。</translation>
    </message>
    <message>
        <source>Your organization suggests not allowing this; you may say yes.</source>
        <translation>您的组织建议不允许此项；您可以同意。</translation>
    </message>
    <message>
        <source>Organization suggestion for {name}</source>
        <translation>组织对{name}的建议</translation>
    </message>
    <message>
        <source>Sent to {recipient}.</source>
        <translation>发送给{recipient}。</translation>
    </message>
    <message>
        <source>Recipient: {name}</source>
        <translation>接收方：{name}</translation>
    </message>
</context>
<context>
    <name>ConsentHistoryView</name>
    <message>
        <source>Time (UTC)</source>
        <translation>时间（UTC）</translation>
    </message>
    <message>
        <source>Purpose</source>
        <translation>用途</translation>
    </message>
    <message>
        <source>Change</source>
        <translation>变更</translation>
    </message>
    <message>
        <source>Decided by</source>
        <translation>决定者</translation>
    </message>
    <message>
        <source>Where</source>
        <translation>来源位置</translation>
    </message>
    <message>
        <source>Versions</source>
        <translation>版本</translation>
    </message>
    <message>
        <source>Consent history</source>
        <translation>同意记录</translation>
    </message>
    <message>
        <source>Consent history check</source>
        <translation>同意记录校验</translation>
    </message>
    <message>
        <source>notice {notice}, prompt {prompt}, fields {inventory}</source>
        <translation>声明 {notice}，提示 {prompt}，字段 {inventory}</translation>
    </message>
    <message>
        <source>All purposes</source>
        <translation>全部用途</translation>
    </message>
    <message>
        <source>Decisions recorded: {count}. The history is complete and unaltered.</source>
        <translation>已记录的决定：{count}。记录完整，未被改动。</translation>
    </message>
    <message>
        <source>The history is damaged: {problem}</source>
        <translation>记录已损坏：{problem}</translation>
    </message>
</context>
<context>
    <name>DataActions</name>
    <message>
        <source>&amp;Export my data…</source>
        <translation>导出我的数据(&amp;E)…</translation>
    </message>
    <message>
        <source>Export my data</source>
        <translation>导出我的数据</translation>
    </message>
    <message>
        <source>Save a zip of everything Upsight keeps about this installation.</source>
        <translation>将 Upsight 保存的关于本次安装的全部数据存为一个 zip 文件。</translation>
    </message>
    <message>
        <source>&amp;Delete local data…</source>
        <translation>删除本地数据(&amp;D)…</translation>
    </message>
    <message>
        <source>Delete local data</source>
        <translation>删除本地数据</translation>
    </message>
    <message>
        <source>Request &amp;cloud deletion…</source>
        <translation>请求云端删除(&amp;C)…</translation>
    </message>
    <message>
        <source>Request cloud deletion</source>
        <translation>请求云端删除</translation>
    </message>
    <message>
        <source>&amp;Reset identifiers…</source>
        <translation>重置标识符(&amp;R)…</translation>
    </message>
    <message>
        <source>Reset identifiers</source>
        <translation>重置标识符</translation>
    </message>
    <message>
        <source>Result of the last action</source>
        <translation>上次操作的结果</translation>
    </message>
    <message>
        <source>On this computer, Upsight deletes the UPS history, everything waiting to be sent, the upload history and your sign-in. Every purpose is set to “Don&apos;t allow” and this installation gets new identifiers. Requests asking the cloud to delete data stay queued, and the record of your privacy choices is kept. This cannot be undone.</source>
        <translation>Upsight 将在这台电脑上删除 UPS 历史记录、所有待发送的数据、上传记录和您的登录信息。所有用途都会设为“不允许”，本次安装将获得新的标识符。要求云端删除数据的请求仍留在队列中，您的隐私选择记录也会保留。此操作无法撤销。</translation>
    </message>
    <message>
        <source>Upsight asks the Upsight cloud to delete everything it received from this installation, for every purpose. The request waits in the queue until it can be sent and is retried until the cloud confirms it. Your choices on this computer do not change.</source>
        <translation>Upsight 将请求 Upsight 云端删除它从本次安装收到的所有数据，涵盖所有用途。该请求会在队列中等待，直到可以发送，并会一直重试，直到云端确认。您在这台电脑上的选择不会改变。</translation>
    </message>
    <message>
        <source>This installation gets a new random id and a new key for the codes that stand in for serial numbers. What was sent before can no longer be linked to what is sent from now on. Nothing is deleted and your choices do not change.</source>
        <translation>本次安装将获得新的随机 ID，以及用于生成序列号替代代码的新密钥。之前发送的数据将无法再与今后发送的数据关联。不会删除任何数据，您的选择也不会改变。</translation>
    </message>
    <message>
        <source>Zip archives (*.zip)</source>
        <translation>Zip 压缩包 (*.zip)</translation>
    </message>
    <message>
        <source>Nothing was exported: {error}</source>
        <translation>未导出任何内容：{error}</translation>
    </message>
    <message numerus="yes">
        <source>Saved {path}: a manifest and %n file(s).</source>
        <translation>
            <numerusform>已保存 {path}：一份清单和 %n 个文件。</numerusform>
        </translation>
    </message>
    <message>
        <source>Nothing was deleted. {reason}</source>
        <translation>未删除任何内容。{reason}</translation>
    </message>
    <message>
        <source>Delete local data?</source>
        <translation>删除本地数据？</translation>
    </message>
    <message>
        <source>Delete</source>
        <translation>删除</translation>
    </message>
    <message>
        <source>Deleted: {uploads}, {entries}, {purposes}. New identifiers were made.</source>
        <translation>已删除：{uploads}，{entries}，{purposes}。已生成新的标识符。</translation>
    </message>
    <message numerus="yes">
        <source>%n waiting upload(s)</source>
        <translation>
            <numerusform>%n 个待上传项</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>%n upload history entry(s)</source>
        <translation>
            <numerusform>%n 条上传记录</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>%n purpose(s) switched off</source>
        <translation>
            <numerusform>已关闭 %n 个用途</numerusform>
        </translation>
    </message>
    <message>
        <source>Ask the cloud to delete your data?</source>
        <translation>请求云端删除您的数据？</translation>
    </message>
    <message>
        <source>Send request</source>
        <translation>发送请求</translation>
    </message>
    <message>
        <source>Deletion request {id} queued.</source>
        <translation>删除请求 {id} 已加入队列。</translation>
    </message>
    <message>
        <source>{queued} Your organization blocks connections to the cloud ({source}), so it waits; “Export my data” includes it for manual submission.</source>
        <translation>{queued} 您的组织禁止连接云端（{source}），因此请求将等待发送；“导出我的数据”中包含该请求，可手动提交。</translation>
    </message>
    <message>
        <source>Reset identifiers?</source>
        <translation>重置标识符？</translation>
    </message>
    <message>
        <source>Reset</source>
        <translation>重置</translation>
    </message>
    <message>
        <source>Identifiers were not reset: {error}</source>
        <translation>标识符未重置：{error}</translation>
    </message>
    <message>
        <source>This installation now has new identifiers.</source>
        <translation>本次安装现已使用新的标识符。</translation>
    </message>
</context>
<context>
    <name>DeviceCard</name>
    <message>
        <source>Simulated UPS</source>
        <translation>模拟 UPS</translation>
    </message>
    <message>
        <source>Simulated UPS, not a real device</source>
        <translation>模拟 UPS，不是真实设备</translation>
    </message>
    <message>
        <source>{label} ({device})</source>
        <translation>{label}（{device}）</translation>
    </message>
    <message>
        <source>Source: {spec}</source>
        <translation>来源：{spec}</translation>
    </message>
    <message>
        <source>Waiting for the first reading from {spec}</source>
        <translation>正在等待 {spec} 的首次读数</translation>
    </message>
    <message>
        <source>No reading yet</source>
        <translation>尚无读数</translation>
    </message>
    <message>
        <source>Last reading {seconds} s ago</source>
        <translation>上次读数在 {seconds} 秒前</translation>
    </message>
    <message>
        <source>{text} ({error})</source>
        <translation>{text}（{error}）</translation>
    </message>
    <message>
        <source>{value} (estimated)</source>
        <translation>{value}（估计值）</translation>
    </message>
    <message>
        <source>Estimated by Upsight from other readings, not measured by the UPS</source>
        <translation>由 Upsight 根据其他读数估算，并非 UPS 实测</translation>
    </message>
    <message>
        <source>{label}: {value}</source>
        <translation>{label}：{value}</translation>
    </message>
</context>
<context>
    <name>EnergyChart</name>
    <message>
        <source>Energy chart</source>
        <translation>能耗图表</translation>
    </message>
    <message>
        <source>Reported by the UPS</source>
        <translation>UPS 报告的数值</translation>
    </message>
    <message>
        <source>Estimated from the load and rated power</source>
        <translation>根据负载和额定功率估算</translation>
    </message>
    <message>
        <source>This UPS does not report its power, so energy is worked out from the load percentage and the rated power; treat it as a rough guide.</source>
        <translation>这台 UPS 不报告功率，因此能耗是根据负载百分比和额定功率推算的，仅供粗略参考。</translation>
    </message>
    <message>
        <source>Solid bars</source>
        <translation>实心柱</translation>
    </message>
    <message>
        <source>Hatched bars</source>
        <translation>斜线柱</translation>
    </message>
</context>
<context>
    <name>Event</name>
    <message>
        <source>Power restored</source>
        <translation>市电已恢复</translation>
    </message>
    <message>
        <source>Power lost: on battery</source>
        <translation>市电中断：电池供电</translation>
    </message>
    <message>
        <source>Low battery</source>
        <translation>电池电量低</translation>
    </message>
    <message>
        <source>Forced shutdown</source>
        <translation>强制关机</translation>
    </message>
    <message>
        <source>Communication restored</source>
        <translation>通信已恢复</translation>
    </message>
    <message>
        <source>Communication lost</source>
        <translation>通信中断</translation>
    </message>
    <message>
        <source>No communication</source>
        <translation>无通信</translation>
    </message>
    <message>
        <source>Replace battery</source>
        <translation>需要更换电池</translation>
    </message>
    <message>
        <source>Overload</source>
        <translation>过载</translation>
    </message>
    <message>
        <source>Battery no longer low</source>
        <translation>电池电量已不再偏低</translation>
    </message>
    <message>
        <source>Battery replacement warning cleared</source>
        <translation>更换电池警告已解除</translation>
    </message>
    <message>
        <source>Overload cleared</source>
        <translation>过载已解除</translation>
    </message>
    <message>
        <source>Charging</source>
        <translation>正在充电</translation>
    </message>
    <message>
        <source>Fully charged</source>
        <translation>已充满</translation>
    </message>
    <message>
        <source>Shutdown scheduled</source>
        <translation>已计划关机</translation>
    </message>
    <message>
        <source>Shutdown postponed</source>
        <translation>关机已推迟</translation>
    </message>
    <message>
        <source>Shutdown cancelled</source>
        <translation>关机已取消</translation>
    </message>
    <message>
        <source>Shutting down now</source>
        <translation>正在关机</translation>
    </message>
    <message>
        <source>Shutdown failed</source>
        <translation>关机失败</translation>
    </message>
    <message>
        <source>Information</source>
        <translation>信息</translation>
    </message>
    <message>
        <source>Warning</source>
        <translation>警告</translation>
    </message>
    <message>
        <source>Critical</source>
        <translation>严重</translation>
    </message>
</context>
<context>
    <name>EventTableModel</name>
    <message>
        <source>Time</source>
        <translation>时间</translation>
    </message>
    <message>
        <source>Device</source>
        <translation>设备</translation>
    </message>
    <message>
        <source>Severity</source>
        <translation>严重程度</translation>
    </message>
    <message>
        <source>Event</source>
        <translation>事件</translation>
    </message>
    <message>
        <source>Message</source>
        <translation>消息</translation>
    </message>
</context>
<context>
    <name>EventsPage</name>
    <message>
        <source>Events</source>
        <translation>事件</translation>
    </message>
    <message>
        <source>Device</source>
        <translation>设备</translation>
    </message>
    <message>
        <source>All devices</source>
        <translation>全部设备</translation>
    </message>
    <message>
        <source>Kind of event</source>
        <translation>事件类型</translation>
    </message>
    <message>
        <source>All kinds</source>
        <translation>全部类型</translation>
    </message>
    <message>
        <source>Severity</source>
        <translation>严重程度</translation>
    </message>
    <message>
        <source>Any severity</source>
        <translation>任意严重程度</translation>
    </message>
    <message>
        <source>Search events</source>
        <translation>搜索事件</translation>
    </message>
    <message>
        <source>&amp;Export CSV…</source>
        <translation>导出 CSV(&amp;E)…</translation>
    </message>
    <message>
        <source>Export the shown events as CSV</source>
        <translation>将显示的事件导出为 CSV</translation>
    </message>
    <message>
        <source>&amp;Reload</source>
        <translation>重新加载(&amp;R)</translation>
    </message>
    <message>
        <source>Reload events from the history</source>
        <translation>从历史记录重新加载事件</translation>
    </message>
    <message>
        <source>Events, newest first</source>
        <translation>事件（最新的在前）</translation>
    </message>
    <message>
        <source>&amp;Device:</source>
        <translation>设备(&amp;D)：</translation>
    </message>
    <message>
        <source>&amp;Kind:</source>
        <translation>类型(&amp;K)：</translation>
    </message>
    <message>
        <source>Se&amp;verity:</source>
        <translation>严重程度(&amp;V)：</translation>
    </message>
    <message>
        <source>Searc&amp;h:</source>
        <translation>搜索(&amp;H)：</translation>
    </message>
    <message>
        <source>Could not load events: {error}</source>
        <translation>无法加载事件：{error}</translation>
    </message>
    <message>
        <source>Export events</source>
        <translation>导出事件</translation>
    </message>
    <message>
        <source>CSV files (*.csv)</source>
        <translation>CSV 文件 (*.csv)</translation>
    </message>
    <message>
        <source>Could not export: {error}</source>
        <translation>无法导出：{error}</translation>
    </message>
    <message numerus="yes">
        <source>Exported %n event(s) to {path}</source>
        <translation>
            <numerusform>已将 %n 个事件导出到 {path}</numerusform>
        </translation>
    </message>
</context>
<context>
    <name>FieldList</name>
    <message>
        <source>Field</source>
        <translation>字段</translation>
    </message>
    <message>
        <source>Sensitivity</source>
        <translation>敏感程度</translation>
    </message>
    <message>
        <source>How it is sent</source>
        <translation>发送方式</translation>
    </message>
    <message>
        <source>Kept on this computer</source>
        <translation>在本机保留</translation>
    </message>
    <message>
        <source>Fields sent for {purpose}</source>
        <translation>为{purpose}发送的字段</translation>
    </message>
    <message>
        <source>{what} (only with “{switch}” on)</source>
        <translation>{what}（仅在开启“{switch}”时）</translation>
    </message>
    <message numerus="yes">
        <source>%n day(s)</source>
        <translation>
            <numerusform>%n 天</numerusform>
        </translation>
    </message>
</context>
<context>
    <name>FieldsToggle</name>
    <message>
        <source>Show the fields it sends ({count})</source>
        <translation>显示发送的字段（{count}）</translation>
    </message>
    <message>
        <source>Fields sent for {name}</source>
        <translation>为{name}发送的字段</translation>
    </message>
</context>
<context>
    <name>FirstRunDialog</name>
    <message>
        <source>Upsight: what may leave this computer</source>
        <translation>Upsight：哪些数据可以离开这台电脑</translation>
    </message>
    <message>
        <source>Upsight sends nothing unless you allow it. Choose “Allow” for what you want to share; everything else stays off. You can change each choice at any time on the Privacy page.
{local}: {why}</source>
        <translation>未经您允许，Upsight 不会发送任何数据。对您想分享的内容选择“允许”，其余一律保持关闭。您可以随时在“隐私”页面更改每一项选择。
{local}：{why}</translation>
    </message>
    <message>
        <source>About these questions</source>
        <translation>关于这些问题</translation>
    </message>
    <message>
        <source>Problem recording your choices</source>
        <translation>记录您的选择时出现问题</translation>
    </message>
    <message>
        <source>&amp;Learn more</source>
        <translation>了解更多(&amp;L)</translation>
    </message>
    <message>
        <source>Read the privacy notice</source>
        <translation>阅读隐私声明</translation>
    </message>
    <message>
        <source>Allow &amp;none</source>
        <translation>全部不允许(&amp;N)</translation>
    </message>
    <message>
        <source>Allow none and continue</source>
        <translation>全部不允许并继续</translation>
    </message>
    <message>
        <source>&amp;Continue</source>
        <translation>继续(&amp;C)</translation>
    </message>
    <message>
        <source>Continue with these choices</source>
        <translation>按这些选择继续</translation>
    </message>
    <message>
        <source>Your choices could not all be recorded: {error}</source>
        <translation>未能记录您的全部选择：{error}</translation>
    </message>
</context>
<context>
    <name>HistoryPage</name>
    <message>
        <source>Battery charge</source>
        <translation>电池电量</translation>
    </message>
    <message>
        <source>Load</source>
        <translation>负载</translation>
    </message>
    <message>
        <source>Input voltage</source>
        <translation>输入电压</translation>
    </message>
    <message>
        <source>Battery runtime</source>
        <translation>电池续航时间</translation>
    </message>
    <message>
        <source>%</source>
        <translation>%</translation>
    </message>
    <message>
        <source>V</source>
        <translation>V</translation>
    </message>
    <message>
        <source>min</source>
        <translation>分钟</translation>
    </message>
    <message>
        <source>h</source>
        <translation>小时</translation>
    </message>
    <message>
        <source>&amp;1 h</source>
        <translation>1 小时(&amp;1)</translation>
    </message>
    <message>
        <source>Last hour</source>
        <translation>最近 1 小时</translation>
    </message>
    <message>
        <source>2&amp;4 h</source>
        <translation>24 小时(&amp;4)</translation>
    </message>
    <message>
        <source>Last 24 hours</source>
        <translation>最近 24 小时</translation>
    </message>
    <message>
        <source>&amp;7 d</source>
        <translation>7 天(&amp;7)</translation>
    </message>
    <message>
        <source>Last 7 days</source>
        <translation>最近 7 天</translation>
    </message>
    <message>
        <source>&amp;90 d</source>
        <translation>90 天(&amp;9)</translation>
    </message>
    <message>
        <source>Last 90 days</source>
        <translation>最近 90 天</translation>
    </message>
    <message>
        <source>No UPS is being monitored yet.</source>
        <translation>目前还没有监控任何 UPS。</translation>
    </message>
    <message>
        <source>Device</source>
        <translation>设备</translation>
    </message>
    <message>
        <source>&amp;Device:</source>
        <translation>设备(&amp;D)：</translation>
    </message>
    <message>
        <source>Simulated UPS: these readings come from a simulation, not a real device.</source>
        <translation>模拟 UPS：这些读数来自模拟，而非真实设备。</translation>
    </message>
    <message>
        <source>Simulated UPS</source>
        <translation>模拟 UPS</translation>
    </message>
    <message>
        <source>History status</source>
        <translation>历史记录状态</translation>
    </message>
    <message>
        <source>Loading history…</source>
        <translation>正在加载历史记录…</translation>
    </message>
    <message>
        <source>Loading</source>
        <translation>正在加载</translation>
    </message>
    <message>
        <source>Outages</source>
        <translation>停电</translation>
    </message>
    <message>
        <source>Energy use per day (kWh)</source>
        <translation>每日能耗（kWh）</translation>
    </message>
    <message>
        <source>Energy total</source>
        <translation>能耗合计</translation>
    </message>
    <message>
        <source>{label} ({device})</source>
        <translation>{label}（{device}）</translation>
    </message>
    <message>
        <source>No history yet

Upsight records readings while it runs; charts appear here after a few minutes.</source>
        <translation>尚无历史记录

Upsight 运行时会记录读数，几分钟后这里就会出现图表。</translation>
    </message>
    <message>
        <source>{title} ({unit})</source>
        <translation>{title}（{unit}）</translation>
    </message>
    <message>
        <source>Average {avg} {unit}, lowest {low} {unit}, highest {high} {unit}</source>
        <translation>平均 {avg} {unit}，最低 {low} {unit}，最高 {high} {unit}</translation>
    </message>
    <message>
        <source>{title} summary</source>
        <translation>{title}摘要</translation>
    </message>
    <message>
        <source>{title} chart</source>
        <translation>{title}图表</translation>
    </message>
    <message>
        <source>Shaded: time on battery. On battery now.</source>
        <translation>阴影：电池供电时段。当前正由电池供电。</translation>
    </message>
    <message numerus="yes">
        <source>Shaded: time on battery (%n outage(s) in this period).</source>
        <translation>
            <numerusform>阴影：电池供电时段（此期间共停电 %n 次）。</numerusform>
        </translation>
    </message>
    <message>
        <source>No outages in this period.</source>
        <translation>此期间没有停电。</translation>
    </message>
    <message numerus="yes">
        <source>These %n day(s): {reported} kWh reported by the UPS, {estimated} kWh estimated.</source>
        <translation>
            <numerusform>这 %n 天：UPS 报告 {reported} kWh，估算 {estimated} kWh。</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>These %n day(s): {reported} kWh, reported by the UPS.</source>
        <translation>
            <numerusform>这 %n 天：{reported} kWh，由 UPS 报告。</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>These %n day(s): {estimated} kWh, estimated from the load.</source>
        <translation>
            <numerusform>这 %n 天：{estimated} kWh，根据负载估算。</numerusform>
        </translation>
    </message>
    <message>
        <source>No energy figures: this UPS reports neither power nor load.</source>
        <translation>没有能耗数据：这台 UPS 既不报告功率，也不报告负载。</translation>
    </message>
    <message>
        <source>Could not load the history: {error}</source>
        <translation>无法加载历史记录：{error}</translation>
    </message>
</context>
<context>
    <name>Inventory</name>
    <message>
        <source>Upsight version number.</source>
        <translation>Upsight 版本号。</translation>
    </message>
    <message>
        <source>Operating system family: windows, macos or linux.</source>
        <translation>操作系统类别：windows、macos 或 linux。</translation>
    </message>
    <message>
        <source>Operating system version, cut to major.minor.</source>
        <translation>操作系统版本，只保留“主版本.次版本”。</translation>
    </message>
    <message>
        <source>Language of the user interface, as a language tag such as en-US.</source>
        <translation>用户界面语言，以语言标记表示，例如 en-US。</translation>
    </message>
    <message>
        <source>Offset of local time from UTC in minutes (not the zone name), to show alert and chart times correctly.</source>
        <translation>本地时间与 UTC 的偏移分钟数（不含时区名称），用于正确显示警报和图表中的时间。</translation>
    </message>
    <message>
        <source>Random UUIDv4 made at install; replaced when every purpose is withdrawn or the user resets identifiers.</source>
        <translation>安装时生成的随机 UUIDv4；在撤回所有用途或用户重置标识符时更换。</translation>
    </message>
    <message>
        <source>UPS model name as the device reports it.</source>
        <translation>设备报告的 UPS 型号名称。</translation>
    </message>
    <message>
        <source>UPS firmware version as the device reports it.</source>
        <translation>设备报告的 UPS 固件版本。</translation>
    </message>
    <message>
        <source>UPS serial number read over USB HID, serial or SNMP; sent as a keyed hash unless the user turns on the serial switch.</source>
        <translation>通过 USB HID、串口或 SNMP 读取的 UPS 序列号；除非用户开启序列号开关，否则以带密钥的哈希值发送。</translation>
    </message>
    <message>
        <source>MAC address of the UPS&apos;s own network management card (SNMP UPSes); always sent as a keyed hash.</source>
        <translation>UPS 自带网络管理卡的 MAC 地址（SNMP UPS）；始终以带密钥的哈希值发送。</translation>
    </message>
    <message>
        <source>How the UPS is attached: usb, serial or snmp.</source>
        <translation>UPS 的连接方式：usb、serial 或 snmp。</translation>
    </message>
    <message>
        <source>UPS state: online, on battery, low battery, overload, fault or bypass.</source>
        <translation>UPS 状态：市电供电、电池供电、电池电量低、过载、故障或旁路。</translation>
    </message>
    <message>
        <source>A UPS event (power failure, restore, self-test result, overload, battery replacement, shutdown started) with its UTC time to the second.</source>
        <translation>UPS 事件（停电、恢复供电、自检结果、过载、更换电池、开始关机）及其精确到秒的 UTC 时间。</translation>
    </message>
    <message>
        <source>Battery charge in percent.</source>
        <translation>电池电量百分比。</translation>
    </message>
    <message>
        <source>Estimated runtime left on battery, in seconds.</source>
        <translation>电池剩余续航时间估计值，单位为秒。</translation>
    </message>
    <message>
        <source>Battery voltage in volts.</source>
        <translation>电池电压，单位为伏特。</translation>
    </message>
    <message>
        <source>Whether the UPS says its battery needs replacing.</source>
        <translation>UPS 是否提示需要更换电池。</translation>
    </message>
    <message>
        <source>Mains input voltage in volts.</source>
        <translation>市电输入电压，单位为伏特。</translation>
    </message>
    <message>
        <source>Mains input frequency in hertz.</source>
        <translation>市电输入频率，单位为赫兹。</translation>
    </message>
    <message>
        <source>Output voltage in volts.</source>
        <translation>输出电压，单位为伏特。</translation>
    </message>
    <message>
        <source>Load on the UPS as a percentage of its rating.</source>
        <translation>UPS 负载占额定容量的百分比。</translation>
    </message>
    <message>
        <source>Output real power in watts.</source>
        <translation>输出有功功率，单位为瓦特。</translation>
    </message>
    <message>
        <source>UPS internal temperature in degrees Celsius.</source>
        <translation>UPS 内部温度，单位为摄氏度。</translation>
    </message>
    <message>
        <source>Energy drawn through the UPS, in kWh per 15-minute bucket; a long series shows a household&apos;s daily routine.</source>
        <translation>经 UPS 消耗的电能，以每 15 分钟为一段的 kWh 计；长期数据可反映一个家庭的作息规律。</translation>
    </message>
    <message>
        <source>The shutdown settings chosen (charge, runtime and time-on-battery limits), as numbers only.</source>
        <translation>所选的关机设置（电量、续航时间和电池供电时长的阈值），仅含数值。</translation>
    </message>
    <message>
        <source>The name the user typed for the UPS, shown in alert texts; the user is told it is uploaded.</source>
        <translation>用户为 UPS 输入的名称，显示在警报文字中；会告知用户该名称将被上传。</translation>
    </message>
    <message>
        <source>This computer&apos;s name, sent only if the user chooses to use it as the device label.</source>
        <translation>这台电脑的名称，仅在用户选择将其用作设备标签时发送。</translation>
    </message>
    <message>
        <source>How many times the Upsight window was opened, per day.</source>
        <translation>每天打开 Upsight 窗口的次数。</translation>
    </message>
    <message>
        <source>How many times each Upsight feature was used, per day.</source>
        <translation>每天使用 Upsight 各项功能的次数。</translation>
    </message>
    <message>
        <source>Seconds the Upsight window was in use, per day.</source>
        <translation>每天使用 Upsight 窗口的秒数。</translation>
    </message>
    <message>
        <source>Exception type and stack as module and line only (no local values, paths, user or host names), with Upsight and OS version.</source>
        <translation>异常类型和调用栈，仅含模块和行号（不含局部变量值、路径、用户名或主机名），以及 Upsight 和操作系统版本。</translation>
    </message>
    <message>
        <source>Driver and communication error codes with how often each occurred.</source>
        <translation>驱动和通信错误代码，以及各自出现的次数。</translation>
    </message>
    <message>
        <source>Country or region the user typed.</source>
        <translation>用户输入的国家或地区。</translation>
    </message>
    <message>
        <source>Name of the current Wi-Fi network; sent as a keyed hash unless the user chooses to send the name.</source>
        <translation>当前 Wi-Fi 网络的名称；除非用户选择发送名称，否则以带密钥的哈希值发送。</translation>
    </message>
    <message>
        <source>Latitude and longitude, if the operating system allows it, rounded to 0.1 degree.</source>
        <translation>经纬度（如果操作系统允许获取），精确到 0.1 度。</translation>
    </message>
    <message>
        <source>Email address given at sign-in.</source>
        <translation>登录时提供的电子邮件地址。</translation>
    </message>
    <message>
        <source>Name given at sign-in.</source>
        <translation>登录时提供的姓名。</translation>
    </message>
    <message>
        <source>Phone number given at sign-in.</source>
        <translation>登录时提供的电话号码。</translation>
    </message>
    <message>
        <source>The computer&apos;s public IP address, which the server sees on every request; the server must cut it to a coarse region and discard it.</source>
        <translation>这台电脑的公网 IP 地址，服务器在每次请求时都能看到；服务器必须将其粗化为大致地区后丢弃。</translation>
    </message>
    <message>
        <source>The purpose a consent receipt or deletion request is about.</source>
        <translation>同意回执或删除请求所涉及的用途。</translation>
    </message>
    <message>
        <source>The decision a consent receipt records: granted, denied or undetermined.</source>
        <translation>同意回执记录的决定：允许、拒绝或未决定。</translation>
    </message>
    <message>
        <source>UTC time of the decision, to the second.</source>
        <translation>作出决定的 UTC 时间，精确到秒。</translation>
    </message>
    <message>
        <source>Version of the privacy notice in force when the decision was made.</source>
        <translation>作出决定时有效的隐私声明版本。</translation>
    </message>
    <message>
        <source>Version of the consent wording the user answered.</source>
        <translation>用户所回答的同意措辞的版本。</translation>
    </message>
    <message>
        <source>The purposes whose cloud data a deletion request asks to erase, or all.</source>
        <translation>删除请求要求清除其云端数据的用途，或全部用途。</translation>
    </message>
    <message>
        <source>The current and earlier install ids whose cloud data a deletion request covers.</source>
        <translation>删除请求所涵盖云端数据的当前及以前的安装 ID。</translation>
    </message>
    <message>
        <source>Keyed hashes already sent (serial, network card, Wi-Fi) whose cloud data a deletion request covers.</source>
        <translation>删除请求所涵盖云端数据的、已发送过的带密钥哈希值（序列号、网卡、Wi-Fi）。</translation>
    </message>
    <message>
        <source>The cloud account whose data a deletion request covers, if the user signed in.</source>
        <translation>删除请求所涵盖数据的云端账户（如果用户已登录）。</translation>
    </message>
</context>
<context>
    <name>LedgerView</name>
    <message>
        <source>Time</source>
        <translation>时间</translation>
    </message>
    <message>
        <source>Purpose</source>
        <translation>用途</translation>
    </message>
    <message>
        <source>Result</source>
        <translation>结果</translation>
    </message>
    <message>
        <source>Bytes</source>
        <translation>字节数</translation>
    </message>
    <message>
        <source>Envelope id</source>
        <translation>数据包 ID</translation>
    </message>
    <message>
        <source>Detail</source>
        <translation>详情</translation>
    </message>
    <message>
        <source>Upload history</source>
        <translation>上传记录</translation>
    </message>
    <message>
        <source>Payload of the selected upload</source>
        <translation>所选上传的内容</translation>
    </message>
    <message>
        <source>Select an upload to see exactly what it held.</source>
        <translation>选择一次上传，查看它包含的确切内容。</translation>
    </message>
    <message>
        <source>Upload history summary</source>
        <translation>上传记录摘要</translation>
    </message>
    <message>
        <source>Show uploads for purpose</source>
        <translation>按用途显示上传</translation>
    </message>
    <message>
        <source>All purposes</source>
        <translation>全部用途</translation>
    </message>
    <message>
        <source>Show uploads with result</source>
        <translation>按结果显示上传</translation>
    </message>
    <message>
        <source>All results</source>
        <translation>全部结果</translation>
    </message>
    <message>
        <source>&amp;Purpose:</source>
        <translation>用途(&amp;P)：</translation>
    </message>
    <message>
        <source>&amp;Result:</source>
        <translation>结果(&amp;R)：</translation>
    </message>
    <message>
        <source>Export as &amp;JSON…</source>
        <translation>导出为 JSON(&amp;J)…</translation>
    </message>
    <message>
        <source>Export the upload history as JSON</source>
        <translation>将上传记录导出为 JSON</translation>
    </message>
    <message>
        <source>Export as &amp;CSV…</source>
        <translation>导出为 CSV(&amp;C)…</translation>
    </message>
    <message>
        <source>Export the upload history as CSV</source>
        <translation>将上传记录导出为 CSV</translation>
    </message>
    <message>
        <source>C&amp;lear history…</source>
        <translation>清除记录(&amp;L)…</translation>
    </message>
    <message>
        <source>Clear the upload history on this computer</source>
        <translation>清除这台电脑上的上传记录</translation>
    </message>
    <message>
        <source>Uploads shown: {count}</source>
        <translation>显示的上传：{count}</translation>
    </message>
    <message>
        <source>Export the upload history</source>
        <translation>导出上传记录</translation>
    </message>
    <message>
        <source>JSON (*.json)</source>
        <translation>JSON (*.json)</translation>
    </message>
    <message>
        <source>CSV (*.csv)</source>
        <translation>CSV (*.csv)</translation>
    </message>
    <message>
        <source>Clear the upload history?</source>
        <translation>清除上传记录？</translation>
    </message>
    <message>
        <source>This deletes the upload history kept on this computer. It does not delete anything the cloud received and does not change your choices.</source>
        <translation>这将删除这台电脑上保存的上传记录。不会删除云端已收到的任何数据，也不会改变您的选择。</translation>
    </message>
</context>
<context>
    <name>LockNote</name>
    <message>
        <source>Managed by your organization</source>
        <translation>由您的组织管理</translation>
    </message>
    <message>
        <source>Set by policy: {source}</source>
        <translation>由策略设定：{source}</translation>
    </message>
</context>
<context>
    <name>MainWindow</name>
    <message>
        <source>Status</source>
        <translation>状态</translation>
    </message>
    <message>
        <source>History</source>
        <translation>历史</translation>
    </message>
    <message>
        <source>Events</source>
        <translation>事件</translation>
    </message>
    <message>
        <source>Settings</source>
        <translation>设置</translation>
    </message>
    <message>
        <source>Privacy</source>
        <translation>隐私</translation>
    </message>
    <message>
        <source>Upsight</source>
        <translation>Upsight</translation>
    </message>
    <message>
        <source>Pages</source>
        <translation>页面</translation>
    </message>
    <message>
        <source>Connection to the service</source>
        <translation>与服务的连接</translation>
    </message>
    <message>
        <source>Starting…</source>
        <translation>正在启动…</translation>
    </message>
    <message>
        <source>Connecting to the Upsight service…</source>
        <translation>正在连接 Upsight 服务…</translation>
    </message>
    <message>
        <source>Monitoring in this app</source>
        <translation>由本应用监控</translation>
    </message>
    <message>
        <source>Showing the Upsight service</source>
        <translation>显示 Upsight 服务的数据</translation>
    </message>
</context>
<context>
    <name>Metric</name>
    <message>
        <source>Battery</source>
        <translation>电池</translation>
    </message>
    <message>
        <source>Mains input</source>
        <translation>市电输入</translation>
    </message>
    <message>
        <source>Output</source>
        <translation>输出</translation>
    </message>
    <message>
        <source>UPS</source>
        <translation>UPS</translation>
    </message>
    <message>
        <source>Charge</source>
        <translation>电量</translation>
    </message>
    <message>
        <source>Runtime left</source>
        <translation>剩余续航</translation>
    </message>
    <message>
        <source>Battery voltage</source>
        <translation>电池电压</translation>
    </message>
    <message>
        <source>Battery temperature</source>
        <translation>电池温度</translation>
    </message>
    <message>
        <source>Battery installed</source>
        <translation>电池安装日期</translation>
    </message>
    <message>
        <source>Input voltage</source>
        <translation>输入电压</translation>
    </message>
    <message>
        <source>Input frequency</source>
        <translation>输入频率</translation>
    </message>
    <message>
        <source>Output voltage</source>
        <translation>输出电压</translation>
    </message>
    <message>
        <source>Output frequency</source>
        <translation>输出频率</translation>
    </message>
    <message>
        <source>Load</source>
        <translation>负载</translation>
    </message>
    <message>
        <source>Power</source>
        <translation>功率</translation>
    </message>
    <message>
        <source>Apparent power</source>
        <translation>视在功率</translation>
    </message>
    <message>
        <source>Rated power</source>
        <translation>额定功率</translation>
    </message>
    <message>
        <source>Rated apparent power</source>
        <translation>额定视在功率</translation>
    </message>
    <message>
        <source>UPS temperature</source>
        <translation>UPS 温度</translation>
    </message>
    <message>
        <source>Last self-test</source>
        <translation>上次自检</translation>
    </message>
    <message>
        <source>Beeper</source>
        <translation>蜂鸣器</translation>
    </message>
    <message>
        <source>{minutes} min</source>
        <translation>{minutes} 分钟</translation>
    </message>
    <message>
        <source>{hours} h</source>
        <translation>{hours} 小时</translation>
    </message>
    <message>
        <source>{hours} h {minutes} min</source>
        <translation>{hours} 小时 {minutes} 分钟</translation>
    </message>
</context>
<context>
    <name>NoticeDialog</name>
    <message>
        <source>Upsight privacy notice</source>
        <translation>Upsight 隐私声明</translation>
    </message>
    <message>
        <source>Version {version}</source>
        <translation>版本 {version}</translation>
    </message>
    <message>
        <source>Privacy notice version</source>
        <translation>隐私声明版本</translation>
    </message>
    <message>
        <source>Privacy notice</source>
        <translation>隐私声明</translation>
    </message>
</context>
<context>
    <name>Notifier</name>
    <message>
        <source>{message}
{device} ({name})</source>
        <translation>{message}
{device}（{name}）</translation>
    </message>
</context>
<context>
    <name>PolicyView</name>
    <message>
        <source>Organization policy summary</source>
        <translation>组织策略摘要</translation>
    </message>
    <message>
        <source>Active policies</source>
        <translation>生效的策略</translation>
    </message>
    <message>
        <source>Policy</source>
        <translation>策略</translation>
    </message>
    <message>
        <source>Value</source>
        <translation>值</translation>
    </message>
    <message>
        <source>Source</source>
        <translation>来源</translation>
    </message>
    <message>
        <source>Scope</source>
        <translation>范围</translation>
    </message>
    <message>
        <source>Level</source>
        <translation>级别</translation>
    </message>
    <message>
        <source>Status</source>
        <translation>状态</translation>
    </message>
    <message>
        <source>Errors</source>
        <translation>错误</translation>
    </message>
    <message>
        <source>Key</source>
        <translation>键</translation>
    </message>
    <message>
        <source>Problem</source>
        <translation>问题</translation>
    </message>
    <message>
        <source>Policy errors</source>
        <translation>策略错误</translation>
    </message>
    <message>
        <source>Where policies are read from</source>
        <translation>策略的读取位置</translation>
    </message>
    <message>
        <source>(set; hidden)</source>
        <translation>（已设置；已隐藏）</translation>
    </message>
    <message>
        <source>Managed by your organization: the policies below limit what you can change.</source>
        <translation>由您的组织管理：以下策略限制了您可以更改的内容。</translation>
    </message>
    <message>
        <source>No organization policy applies to Upsight here.</source>
        <translation>此处没有适用于 Upsight 的组织策略。</translation>
    </message>
    <message>
        <source>Locked</source>
        <translation>已锁定</translation>
    </message>
    <message>
        <source>Default</source>
        <translation>默认</translation>
    </message>
    <message>
        <source>(whole source)</source>
        <translation>（整个来源）</translation>
    </message>
    <message>
        <source>(none)</source>
        <translation>（无）</translation>
    </message>
    <message>
        <source>Policy format: {schema}
Locations read:
{searched}</source>
        <translation>策略格式：{schema}
已读取的位置：
{searched}</translation>
    </message>
</context>
<context>
    <name>PreviewDialog</name>
    <message>
        <source>Next upload: {name}</source>
        <translation>下一次上传：{name}</translation>
    </message>
    <message>
        <source>This is exactly what Upsight sends next for “{name}”.</source>
        <translation>这正是 Upsight 下一次为“{name}”发送的内容。</translation>
    </message>
    <message>
        <source>“{name}” is off, so nothing is sent. This is exactly what would be sent if you allowed it.</source>
        <translation>“{name}”已关闭，因此不会发送任何内容。如果您允许，发送的内容将与此完全相同。</translation>
    </message>
    <message>
        <source>About this preview</source>
        <translation>关于此预览</translation>
    </message>
    <message>
        <source>No uploading Upsight service answered, so this preview has no UPS readings: it holds only what describes this installation.</source>
        <translation>没有负责上传的 Upsight 服务响应，因此此预览不含 UPS 读数，只包含描述本次安装的信息。</translation>
    </message>
    <message>
        <source>Preview limitation</source>
        <translation>预览的局限</translation>
    </message>
    <message>
        <source>Envelope content</source>
        <translation>数据包内容</translation>
    </message>
    <message>
        <source>&amp;Copy</source>
        <translation>复制(&amp;C)</translation>
    </message>
    <message>
        <source>Copy the envelope</source>
        <translation>复制数据包</translation>
    </message>
    <message>
        <source>&amp;Save…</source>
        <translation>保存(&amp;S)…</translation>
    </message>
    <message>
        <source>Save the envelope to a file</source>
        <translation>将数据包保存到文件</translation>
    </message>
    <message>
        <source>Save the envelope</source>
        <translation>保存数据包</translation>
    </message>
    <message>
        <source>JSON files (*.json)</source>
        <translation>JSON 文件 (*.json)</translation>
    </message>
</context>
<context>
    <name>PrivacyHistory</name>
    <message>
        <source>Allowed</source>
        <translation>已允许</translation>
    </message>
    <message>
        <source>Not allowed</source>
        <translation>不允许</translation>
    </message>
    <message>
        <source>Not decided</source>
        <translation>未决定</translation>
    </message>
    <message>
        <source>First-start questions</source>
        <translation>首次启动问题</translation>
    </message>
    <message>
        <source>Privacy page</source>
        <translation>隐私页面</translation>
    </message>
    <message>
        <source>Command line</source>
        <translation>命令行</translation>
    </message>
    <message>
        <source>Installer preset</source>
        <translation>安装程序预设</translation>
    </message>
    <message>
        <source>Organization policy</source>
        <translation>组织策略</translation>
    </message>
    <message>
        <source>You</source>
        <translation>您</translation>
    </message>
    <message>
        <source>Your organization</source>
        <translation>您的组织</translation>
    </message>
    <message>
        <source>Switched “{switch}” on</source>
        <translation>已开启“{switch}”</translation>
    </message>
    <message>
        <source>Switched “{switch}” off</source>
        <translation>已关闭“{switch}”</translation>
    </message>
    <message>
        <source>Unknown</source>
        <translation>未知</translation>
    </message>
    <message>
        <source>{before} → {after}</source>
        <translation>{before} → {after}</translation>
    </message>
</context>
<context>
    <name>PrivacyLedger</name>
    <message>
        <source>Sent</source>
        <translation>已发送</translation>
    </message>
    <message>
        <source>Sent before you withdrew</source>
        <translation>在您撤回前已发送</translation>
    </message>
    <message>
        <source>Rejected by the server</source>
        <translation>被服务器拒绝</translation>
    </message>
    <message>
        <source>Dropped: consent withdrawn or blocked</source>
        <translation>已丢弃：同意已撤回或被阻止</translation>
    </message>
    <message>
        <source>Dropped: queue full</source>
        <translation>已丢弃：队列已满</translation>
    </message>
    <message>
        <source>Dropped: too old</source>
        <translation>已丢弃：过于陈旧</translation>
    </message>
    <message>
        <source>Dropped: failed its checks</source>
        <translation>已丢弃：未通过检查</translation>
    </message>
    <message>
        <source>Dropped: damaged on disk</source>
        <translation>已丢弃：磁盘上的数据已损坏</translation>
    </message>
    <message>
        <source>No payload was kept: the envelope could not be read back.</source>
        <translation>未保留内容：无法读回该数据包。</translation>
    </message>
</context>
<context>
    <name>PrivacyLink</name>
    <message>
        <source>The Upsight service could not be told ({error}); it checks your choices again before every upload.</source>
        <translation>无法通知 Upsight 服务（{error}）；它会在每次上传前重新检查您的选择。</translation>
    </message>
    <message>
        <source>Upsight is monitoring your UPS from this window and keeps its history open. Quit Upsight, then run “upsight privacy delete-local”.</source>
        <translation>Upsight 正在通过此窗口监控您的 UPS，历史记录处于打开状态。请退出 Upsight，然后运行“upsight privacy delete-local”。</translation>
    </message>
    <message>
        <source>The Upsight service is running and keeps the history open. Stop the service, then try again.</source>
        <translation>Upsight 服务正在运行，历史记录处于打开状态。请停止该服务后重试。</translation>
    </message>
</context>
<context>
    <name>PrivacyPage</name>
    <message>
        <source>Privacy</source>
        <translation>隐私</translation>
    </message>
    <message>
        <source>Privacy settings cannot be opened, so nothing is uploaded: {error}</source>
        <translation>无法打开隐私设置，因此不会上传任何内容：{error}</translation>
    </message>
    <message>
        <source>Privacy settings unavailable</source>
        <translation>隐私设置不可用</translation>
    </message>
</context>
<context>
    <name>PrivacyPanel</name>
    <message>
        <source>Privacy sections</source>
        <translation>隐私分区</translation>
    </message>
    <message>
        <source>&amp;Choices</source>
        <translation>选择(&amp;C)</translation>
    </message>
    <message>
        <source>&amp;Upload history</source>
        <translation>上传记录(&amp;U)</translation>
    </message>
    <message>
        <source>Consent hi&amp;story</source>
        <translation>同意记录(&amp;S)</translation>
    </message>
    <message>
        <source>&amp;Organization policy</source>
        <translation>组织策略(&amp;O)</translation>
    </message>
    <message>
        <source>Your &amp;data</source>
        <translation>您的数据(&amp;D)</translation>
    </message>
    <message>
        <source>Nothing leaves this computer unless you allow it. Each purpose is a separate choice, and switching one off is as quick as switching it on.
{local}: {why}</source>
        <translation>未经您允许，任何数据都不会离开这台电脑。每个用途都是单独的选择，关闭和开启一样快捷。
{local}：{why}</translation>
    </message>
    <message>
        <source>About these choices</source>
        <translation>关于这些选择</translation>
    </message>
    <message>
        <source>Problems keeping uploads off</source>
        <translation>保持上传关闭时出现的问题</translation>
    </message>
    <message>
        <source>Upload status</source>
        <translation>上传状态</translation>
    </message>
    <message>
        <source>Result of your last change</source>
        <translation>您上次更改的结果</translation>
    </message>
    <message>
        <source>Read the &amp;privacy notice</source>
        <translation>阅读隐私声明(&amp;P)</translation>
    </message>
    <message>
        <source>Read the privacy notice</source>
        <translation>阅读隐私声明</translation>
    </message>
    <message>
        <source>&amp;Refresh</source>
        <translation>刷新(&amp;R)</translation>
    </message>
    <message>
        <source>Refresh the privacy page</source>
        <translation>刷新隐私页面</translation>
    </message>
    <message>
        <source>Uploads are held back: {problem}</source>
        <translation>上传已暂停：{problem}</translation>
    </message>
    <message>
        <source>Uploads are not set up here; your choices apply once they are.</source>
        <translation>此处尚未设置上传；设置后您的选择即会生效。</translation>
    </message>
    <message numerus="yes">
        <source>%n upload(s) waiting to be sent.</source>
        <translation>
            <numerusform>%n 个上传项等待发送。</numerusform>
        </translation>
    </message>
    <message>
        <source>{text} {problem}</source>
        <translation>{text} {problem}</translation>
    </message>
    <message>
        <source>“{name}” is allowed.</source>
        <translation>已允许“{name}”。</translation>
    </message>
    <message>
        <source>Your choice for “{name}” is recorded, but it stays off: {why}</source>
        <translation>您对“{name}”的选择已记录，但它仍保持关闭：{why}</translation>
    </message>
    <message>
        <source>“{name}” is not allowed.</source>
        <translation>不允许“{name}”。</translation>
    </message>
    <message numerus="yes">
        <source>{said} %n waiting upload(s) deleted; the cloud is asked to delete what it received.</source>
        <translation>
            <numerusform>{said}已删除 %n 个待上传项；已请求云端删除它收到的数据。</numerusform>
        </translation>
    </message>
    <message>
        <source>Nothing changed: {error}</source>
        <translation>未做任何更改：{error}</translation>
    </message>
    <message>
        <source>No preview of “{name}”: {error}</source>
        <translation>无法预览“{name}”：{error}</translation>
    </message>
</context>
<context>
    <name>PrivacyRows</name>
    <message>
        <source>Technical</source>
        <translation>技术信息</translation>
    </message>
    <message>
        <source>How you use the app</source>
        <translation>您如何使用本应用</translation>
    </message>
    <message>
        <source>Your content</source>
        <translation>您的内容</translation>
    </message>
    <message>
        <source>Identifies you or this device</source>
        <translation>可识别您或此设备</translation>
    </message>
    <message>
        <source>While the UPS is connected</source>
        <translation>UPS 连接期间</translation>
    </message>
    <message>
        <source>While you keep it set</source>
        <translation>在您保留此设置期间</translation>
    </message>
    <message>
        <source>Until you reset identifiers</source>
        <translation>直到您重置标识符</translation>
    </message>
    <message>
        <source>With the record of your choices</source>
        <translation>与您的选择记录一同保存</translation>
    </message>
    <message>
        <source>Until it is delivered</source>
        <translation>直到送达</translation>
    </message>
    <message>
        <source>As it is</source>
        <translation>原样</translation>
    </message>
    <message>
        <source>As one of a fixed list of values</source>
        <translation>作为固定取值列表中的一项</translation>
    </message>
    <message>
        <source>Major and minor version only</source>
        <translation>仅主版本和次版本</translation>
    </message>
    <message>
        <source>As a language tag</source>
        <translation>作为语言标记</translation>
    </message>
    <message>
        <source>As an offset in minutes, not the zone name</source>
        <translation>作为分钟偏移量，而非时区名称</translation>
    </message>
    <message>
        <source>As a code that cannot be turned back into the value</source>
        <translation>作为无法还原为原值的代码</translation>
    </message>
    <message>
        <source>Event type and time to the second</source>
        <translation>事件类型和精确到秒的时间</translation>
    </message>
    <message>
        <source>Rounded</source>
        <translation>取整</translation>
    </message>
    <message>
        <source>As 15-minute minimum, average and maximum</source>
        <translation>作为每 15 分钟的最小值、平均值和最大值</translation>
    </message>
    <message>
        <source>As 15-minute totals</source>
        <translation>作为每 15 分钟的合计</translation>
    </message>
    <message>
        <source>Numbers only</source>
        <translation>仅数值</translation>
    </message>
    <message>
        <source>As daily counts</source>
        <translation>作为每日计数</translation>
    </message>
    <message>
        <source>Cleaned of paths, names and values</source>
        <translation>已清除路径、名称和数值</translation>
    </message>
    <message>
        <source>As error codes and counts</source>
        <translation>作为错误代码和次数</translation>
    </message>
    <message>
        <source>Only in the sign-in request</source>
        <translation>仅在登录请求中</translation>
    </message>
    <message>
        <source>Seen by the server, which shortens it</source>
        <translation>服务器可见，并由服务器截短</translation>
    </message>
    <message>
        <source>Not kept</source>
        <translation>不保留</translation>
    </message>
    <message>
        <source>Part of every connection: {how}</source>
        <translation>每次连接都会包含：{how}</translation>
    </message>
    <message>
        <source>the Upsight cloud at {endpoint}</source>
        <translation>位于 {endpoint} 的 Upsight 云端</translation>
    </message>
    <message>
        <source>the Upsight cloud (no address is set yet, so nothing is sent)</source>
        <translation>Upsight 云端（尚未设置地址，因此不会发送任何内容）</translation>
    </message>
    <message>
        <source>Off: {reason}</source>
        <translation>关闭：{reason}</translation>
    </message>
    <message>
        <source>Off: blocked by your organization</source>
        <translation>关闭：被您的组织禁止</translation>
    </message>
    <message>
        <source>Managed by your organization</source>
        <translation>由您的组织管理</translation>
    </message>
    <message>
        <source>Off: your organization&apos;s policy for this could not be used</source>
        <translation>关闭：无法使用您的组织对此项的策略</translation>
    </message>
    <message>
        <source>On: enabled by your organization</source>
        <translation>开启：由您的组织启用</translation>
    </message>
    <message>
        <source>Enabled by your organization</source>
        <translation>由您的组织启用</translation>
    </message>
    <message>
        <source>On: recommended by your organization; you can switch it off</source>
        <translation>开启：您的组织建议开启；您可以关闭</translation>
    </message>
    <message>
        <source>Recommended by your organization</source>
        <translation>您的组织的建议</translation>
    </message>
    <message>
        <source>Off: your organization recommends not allowing it; you can switch it on</source>
        <translation>关闭：您的组织建议不允许；您可以开启</translation>
    </message>
    <message>
        <source>On: you allowed it</source>
        <translation>开启：您已允许</translation>
    </message>
    <message>
        <source>Off: you chose not to allow it</source>
        <translation>关闭：您选择了不允许</translation>
    </message>
    <message>
        <source>Off: asked again because what it sends or its wording changed</source>
        <translation>关闭：由于发送的内容或措辞有变，需要重新询问</translation>
    </message>
    <message>
        <source>Off: not decided yet</source>
        <translation>关闭：尚未决定</translation>
    </message>
</context>
<context>
    <name>PurposeRow</name>
    <message>
        <source>Why: {name}</source>
        <translation>用途说明：{name}</translation>
    </message>
    <message>
        <source>Allow</source>
        <translation>允许</translation>
    </message>
    <message>
        <source>Allow {name}</source>
        <translation>允许{name}</translation>
    </message>
    <message>
        <source>Don&apos;t allow</source>
        <translation>不允许</translation>
    </message>
    <message>
        <source>Don&apos;t allow {name}</source>
        <translation>不允许{name}</translation>
    </message>
    <message>
        <source>Note: {name}</source>
        <translation>注意：{name}</translation>
    </message>
    <message>
        <source>Works only with a signed-in account or your organization&apos;s enrolment.</source>
        <translation>仅在登录账户或由您的组织注册后可用。</translation>
    </message>
    <message>
        <source>Requirement: {name}</source>
        <translation>要求：{name}</translation>
    </message>
    <message>
        <source>State of {name}</source>
        <translation>{name}的状态</translation>
    </message>
    <message>
        <source>Organization setting for {name}</source>
        <translation>组织对{name}的设置</translation>
    </message>
    <message>
        <source>Recipient and last upload: {name}</source>
        <translation>接收方和上次上传：{name}</translation>
    </message>
    <message>
        <source>Preview next upload</source>
        <translation>预览下一次上传</translation>
    </message>
    <message>
        <source>Preview next upload of {name}</source>
        <translation>预览{name}的下一次上传</translation>
    </message>
    <message>
        <source>Set by {source}</source>
        <translation>由 {source} 设定</translation>
    </message>
    <message>
        <source>Last sent: {time}</source>
        <translation>上次发送：{time}</translation>
    </message>
    <message>
        <source>Nothing sent yet</source>
        <translation>尚未发送任何内容</translation>
    </message>
    <message>
        <source>Recipient: {recipient}. {sent}.</source>
        <translation>接收方：{recipient}。{sent}。</translation>
    </message>
</context>
<context>
    <name>Purposes</name>
    <message>
        <source>Local monitoring</source>
        <translation>本地监控</translation>
    </message>
    <message>
        <source>Watches the UPS, shows alerts and shuts this computer down safely. It works without any of the choices below and sends nothing.</source>
        <translation>监视 UPS、显示警报并安全关闭这台电脑。它无需下面任何一项选择即可工作，并且不发送任何数据。</translation>
    </message>
    <message>
        <source>Cloud alerts &amp; remote status</source>
        <translation>云端警报与远程状态</translation>
    </message>
    <message>
        <source>Sends the UPS state to the Upsight cloud so it can push or email you an alert and show the UPS on a remote dashboard when the power changes.</source>
        <translation>将 UPS 状态发送到 Upsight 云端，以便在供电变化时向您推送通知或发送邮件警报，并在远程仪表板上显示 UPS。</translation>
    </message>
    <message>
        <source>Use the computer name as the device label</source>
        <translation>用电脑名称作为设备标签</translation>
    </message>
    <message>
        <source>Sends this computer&apos;s name so alerts say which machine they are about.</source>
        <translation>发送这台电脑的名称，让警报注明涉及的是哪台机器。</translation>
    </message>
    <message>
        <source>Link this UPS to your account / warranty</source>
        <translation>将此 UPS 关联到您的账户／保修</translation>
    </message>
    <message>
        <source>Ties the UPS model and serial number to your account so you can receive warranty and recall notices for it.</source>
        <translation>将 UPS 型号和序列号关联到您的账户，以便您收到相关的保修和召回通知。</translation>
    </message>
    <message>
        <source>Without the serial switch, the serial number is sent only as a code that cannot be turned back into the number.</source>
        <translation>未开启序列号开关时，序列号只会以无法还原的代码形式发送。</translation>
    </message>
    <message>
        <source>Send serial for warranty</source>
        <translation>发送序列号用于保修</translation>
    </message>
    <message>
        <source>Sends the UPS serial number as printed on the unit instead of a code derived from it, so the manufacturer can match it to a warranty.</source>
        <translation>发送印在设备上的 UPS 序列号，而不是由其生成的代码，以便制造商将其与保修对应。</translation>
    </message>
    <message>
        <source>Electricity history in the cloud</source>
        <translation>云端用电历史</translation>
    </message>
    <message>
        <source>Keeps long-term charts of power and energy use in the cloud and looks for unusual patterns, such as a battery wearing out.</source>
        <translation>在云端保存功率和能耗的长期图表，并查找异常规律，例如电池老化。</translation>
    </message>
    <message>
        <source>At home, an electricity curve can show when people are in, asleep or away.</source>
        <translation>在家中，用电曲线可以反映家人何时在家、入睡或外出。</translation>
    </message>
    <message>
        <source>Crash &amp; error reports</source>
        <translation>崩溃与错误报告</translation>
    </message>
    <message>
        <source>Sends a report when Upsight crashes or a device stops answering, so we can fix the bug.</source>
        <translation>在 Upsight 崩溃或设备停止响应时发送报告，以便我们修复问题。</translation>
    </message>
    <message>
        <source>Reports are cleaned of paths and names, but may still hint at how you use this computer.</source>
        <translation>报告已清除路径和名称，但仍可能透露您如何使用这台电脑。</translation>
    </message>
    <message>
        <source>Usage statistics</source>
        <translation>使用统计</translation>
    </message>
    <message>
        <source>Counts how often Upsight is opened and which features are used, so we know what to improve.</source>
        <translation>统计 Upsight 的打开次数和所用功能，让我们知道需要改进什么。</translation>
    </message>
    <message>
        <source>Location for outage correlation</source>
        <translation>用于停电关联分析的位置</translation>
    </message>
    <message>
        <source>Uses your region, Wi-Fi network or position to tell whether an outage is local or affects the whole area.</source>
        <translation>根据您的地区、Wi-Fi 网络或位置，判断停电是局部的还是影响整个区域。</translation>
    </message>
    <message>
        <source>Location can identify where you live or work.</source>
        <translation>位置信息可能暴露您居住或工作的地点。</translation>
    </message>
    <message>
        <source>Send the Wi-Fi network name</source>
        <translation>发送 Wi-Fi 网络名称</translation>
    </message>
    <message>
        <source>Sends the name of the Wi-Fi network you are on instead of a code derived from it.</source>
        <translation>发送您所在 Wi-Fi 网络的名称，而不是由其生成的代码。</translation>
    </message>
    <message>
        <source>Sign-in &amp; contact details</source>
        <translation>登录与联系方式</translation>
    </message>
    <message>
        <source>Creates or uses your Upsight cloud account with your name, email address and phone number.</source>
        <translation>使用您的姓名、电子邮件地址和电话号码创建或使用您的 Upsight 云端账户。</translation>
    </message>
    <message>
        <source>Your details are sent only when you sign in yourself.</source>
        <translation>只有在您亲自登录时才会发送您的信息。</translation>
    </message>
    <message>
        <source>Privacy requests</source>
        <translation>隐私请求</translation>
    </message>
    <message>
        <source>Sends receipts of your privacy choices and your requests to delete data, so the cloud can honour them.</source>
        <translation>发送您的隐私选择回执和删除数据的请求，以便云端予以执行。</translation>
    </message>
</context>
<context>
    <name>Settings</name>
    <message>
        <source>Read the UPS every</source>
        <translation>读取 UPS 的间隔</translation>
    </message>
    <message>
        <source>Ignore power blips shorter than</source>
        <translation>忽略短于此时长的瞬时断电</translation>
    </message>
    <message>
        <source>Warn when the UPS is silent for</source>
        <translation>UPS 无响应超过此时长时警告</translation>
    </message>
    <message>
        <source>Show notifications</source>
        <translation>显示通知</translation>
    </message>
    <message>
        <source>Notify about</source>
        <translation>通知内容</translation>
    </message>
    <message>
        <source>Every event</source>
        <translation>所有事件</translation>
    </message>
    <message>
        <source>Warnings and critical events</source>
        <translation>警告和严重事件</translation>
    </message>
    <message>
        <source>Critical events only</source>
        <translation>仅严重事件</translation>
    </message>
    <message>
        <source>When the battery runs low</source>
        <translation>电池电量不足时</translation>
    </message>
    <message>
        <source>Shut down this computer</source>
        <translation>关闭这台电脑</translation>
    </message>
    <message>
        <source>Hibernate this computer</source>
        <translation>让这台电脑休眠</translation>
    </message>
    <message>
        <source>Run a command</source>
        <translation>运行命令</translation>
    </message>
    <message>
        <source>Only notify me</source>
        <translation>仅通知我</translation>
    </message>
    <message>
        <source>Do nothing (monitor only)</source>
        <translation>不采取行动（仅监控）</translation>
    </message>
    <message>
        <source>Act after on battery (0: off)</source>
        <translation>电池供电超过此时长后执行（0：关闭）</translation>
    </message>
    <message>
        <source>Act below runtime (0: off)</source>
        <translation>剩余续航低于此值时执行（0：关闭）</translation>
    </message>
    <message>
        <source>Act below charge (0: off)</source>
        <translation>电量低于此值时执行（0：关闭）</translation>
    </message>
    <message>
        <source>Act when the UPS says the battery is low</source>
        <translation>UPS 报告电池电量低时执行</translation>
    </message>
    <message>
        <source>Warning before acting</source>
        <translation>执行前的警告时长</translation>
    </message>
    <message>
        <source>Let users postpone a shutdown</source>
        <translation>允许用户推迟关机</translation>
    </message>
    <message>
        <source>Each postponement adds</source>
        <translation>每次推迟增加</translation>
    </message>
    <message>
        <source>Postponements allowed</source>
        <translation>允许推迟的次数</translation>
    </message>
    <message>
        <source>Command to run</source>
        <translation>要运行的命令</translation>
    </message>
    <message>
        <source>Stop the command after</source>
        <translation>命令运行超过此时长后停止</translation>
    </message>
    <message>
        <source>Then turn the UPS off until mains returns</source>
        <translation>然后关闭 UPS，直到市电恢复</translation>
    </message>
    <message>
        <source>UPS turns off after</source>
        <translation>UPS 关闭前的延迟</translation>
    </message>
    <message>
        <source>UPSes powering this computer (empty: all real ones)</source>
        <translation>为这台电脑供电的 UPS（留空：所有真实 UPS）</translation>
    </message>
</context>
<context>
    <name>SettingsPage</name>
    <message>
        <source>Settings</source>
        <translation>设置</translation>
    </message>
    <message>
        <source>Could not read the settings: {error}</source>
        <translation>无法读取设置：{error}</translation>
    </message>
    <message>
        <source>Monitoring</source>
        <translation>监控</translation>
    </message>
    <message>
        <source>Notifications</source>
        <translation>通知</translation>
    </message>
    <message>
        <source>Protection</source>
        <translation>保护</translation>
    </message>
    <message>
        <source>Managed by your organization: {source}</source>
        <translation>由您的组织管理：{source}</translation>
    </message>
    <message>
        <source>Devices</source>
        <translation>设备</translation>
    </message>
    <message>
        <source>Monitored devices</source>
        <translation>受监控的设备</translation>
    </message>
    <message>
        <source>Could not list the devices: {error}</source>
        <translation>无法列出设备：{error}</translation>
    </message>
    <message>
        <source>{name}: {spec}</source>
        <translation>{name}：{spec}</translation>
    </message>
    <message>
        <source>Monitoring now:</source>
        <translation>当前监控：</translation>
    </message>
    <message>
        <source>Device to monitor</source>
        <translation>要监控的设备</translation>
    </message>
    <message>
        <source>&amp;Find devices</source>
        <translation>查找设备(&amp;F)</translation>
    </message>
    <message>
        <source>Look for UPSes on this computer</source>
        <translation>在这台电脑上查找 UPS</translation>
    </message>
    <message>
        <source>&amp;Use this device</source>
        <translation>使用此设备(&amp;U)</translation>
    </message>
    <message>
        <source>Monitor the chosen device</source>
        <translation>监控所选设备</translation>
    </message>
    <message>
        <source>&amp;Device:</source>
        <translation>设备(&amp;D)：</translation>
    </message>
    <message>
        <source>{description} ({spec})</source>
        <translation>{description}（{spec}）</translation>
    </message>
    <message>
        <source>Simulated UPS: {summary} ({spec})</source>
        <translation>模拟 UPS：{summary}（{spec}）</translation>
    </message>
    <message>
        <source>Desktop app</source>
        <translation>桌面应用</translation>
    </message>
    <message>
        <source>Start Upsight when I &amp;log in</source>
        <translation>登录时启动 Upsight(&amp;L)</translation>
    </message>
    <message>
        <source>Start &amp;minimized to the tray</source>
        <translation>启动时最小化到托盘(&amp;M)</translation>
    </message>
    <message>
        <source>Keep running in the &amp;tray when the window is closed</source>
        <translation>关闭窗口后继续在托盘中运行(&amp;T)</translation>
    </message>
    <message>
        <source>{setting}: {error}</source>
        <translation>{setting}：{error}</translation>
    </message>
    <message>
        <source>Not saved: {error}</source>
        <translation>未保存：{error}</translation>
    </message>
    <message>
        <source>Looking for UPSes…</source>
        <translation>正在查找 UPS…</translation>
    </message>
    <message numerus="yes">
        <source>Found %n UPS(es).</source>
        <translation>
            <numerusform>找到 %n 台 UPS。</numerusform>
        </translation>
    </message>
    <message>
        <source>No UPS found on this computer. You can try a simulated UPS.</source>
        <translation>在这台电脑上没有找到 UPS。您可以试用模拟 UPS。</translation>
    </message>
    <message>
        <source>Could not look for UPSes: {error}</source>
        <translation>无法查找 UPS：{error}</translation>
    </message>
    <message>
        <source>Upsight will monitor {spec} from its next start.</source>
        <translation>Upsight 将在下次启动时开始监控 {spec}。</translation>
    </message>
    <message>
        <source>Could not change starting at login: {error}</source>
        <translation>无法更改登录时启动的设置：{error}</translation>
    </message>
    <message>
        <source>Could not save: {error}</source>
        <translation>无法保存：{error}</translation>
    </message>
</context>
<context>
    <name>Status</name>
    <message>
        <source>On line</source>
        <translation>市电供电</translation>
    </message>
    <message>
        <source>Connecting…</source>
        <translation>正在连接…</translation>
    </message>
    <message>
        <source>No communication</source>
        <translation>无通信</translation>
    </message>
    <message>
        <source>On battery</source>
        <translation>电池供电</translation>
    </message>
    <message>
        <source>Low battery</source>
        <translation>电池电量低</translation>
    </message>
    <message>
        <source>Shutdown forced</source>
        <translation>已强制关机</translation>
    </message>
    <message>
        <source>Replace the battery</source>
        <translation>请更换电池</translation>
    </message>
    <message>
        <source>Overloaded</source>
        <translation>过载</translation>
    </message>
    <message>
        <source>On bypass</source>
        <translation>旁路供电</translation>
    </message>
    <message>
        <source>Output off</source>
        <translation>输出已关闭</translation>
    </message>
    <message>
        <source>Self-test running</source>
        <translation>正在自检</translation>
    </message>
    <message>
        <source>Reducing high mains voltage</source>
        <translation>正在降低过高的市电电压</translation>
    </message>
    <message>
        <source>Raising low mains voltage</source>
        <translation>正在提升过低的市电电压</translation>
    </message>
    <message>
        <source>Charging</source>
        <translation>正在充电</translation>
    </message>
    <message>
        <source>UPS</source>
        <translation>UPS</translation>
    </message>
    <message>
        <source>Simulated UPS</source>
        <translation>模拟 UPS</translation>
    </message>
    <message>
        <source>{status}: {charge}, about {runtime} left</source>
        <translation>{status}：{charge}，约剩 {runtime}</translation>
    </message>
    <message>
        <source>{status}: {charge}</source>
        <translation>{status}：{charge}</translation>
    </message>
</context>
<context>
    <name>StatusPage</name>
    <message>
        <source>Status</source>
        <translation>状态</translation>
    </message>
    <message>
        <source>Waiting for the first reading…</source>
        <translation>正在等待首次读数…</translation>
    </message>
</context>
<context>
    <name>Tray</name>
    <message>
        <source>&amp;Open Upsight</source>
        <translation>打开 Upsight(&amp;O)</translation>
    </message>
    <message>
        <source>&amp;Mute the beeper</source>
        <translation>关闭蜂鸣器(&amp;M)</translation>
    </message>
    <message>
        <source>Run a battery &amp;self-test</source>
        <translation>运行电池自检(&amp;S)</translation>
    </message>
    <message>
        <source>&amp;Pause notifications for 1 hour</source>
        <translation>暂停通知 1 小时(&amp;P)</translation>
    </message>
    <message>
        <source>&amp;Quit</source>
        <translation>退出(&amp;Q)</translation>
    </message>
    <message>
        <source>Upsight</source>
        <translation>Upsight</translation>
    </message>
    <message>
        <source>{label} ({device}) from {spec}</source>
        <translation>{label}（{device}），来自 {spec}</translation>
    </message>
    <message>
        <source>Beeper muted on {devices}</source>
        <translation>已关闭 {devices} 的蜂鸣器</translation>
    </message>
    <message>
        <source>Could not mute the beeper: {error}</source>
        <translation>无法关闭蜂鸣器：{error}</translation>
    </message>
    <message>
        <source>Battery self-test started on {devices}</source>
        <translation>已在 {devices} 上开始电池自检</translation>
    </message>
    <message>
        <source>Could not start the self-test: {error}</source>
        <translation>无法开始自检：{error}</translation>
    </message>
    <message>
        <source>unexpected error ({error})</source>
        <translation>意外错误（{error}）</translation>
    </message>
</context>
</TS>
