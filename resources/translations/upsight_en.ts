<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="en" sourcelanguage="en">
<context>
    <name>DataActions</name>
    <message numerus="yes">
        <source>Saved {path}: a manifest and %n file(s).</source>
        <translation>
            <numerusform>Saved {path}: a manifest and %n file.</numerusform>
            <numerusform>Saved {path}: a manifest and %n files.</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>%n waiting upload(s)</source>
        <translation>
            <numerusform>%n waiting upload</numerusform>
            <numerusform>%n waiting uploads</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>%n upload history entry(s)</source>
        <translation>
            <numerusform>%n upload history entry</numerusform>
            <numerusform>%n upload history entries</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>%n purpose(s) switched off</source>
        <translation>
            <numerusform>%n purpose switched off</numerusform>
            <numerusform>%n purposes switched off</numerusform>
        </translation>
    </message>
</context>
<context>
    <name>EventsPage</name>
    <message numerus="yes">
        <source>Exported %n event(s) to {path}</source>
        <translation>
            <numerusform>Exported %n event to {path}</numerusform>
            <numerusform>Exported %n events to {path}</numerusform>
        </translation>
    </message>
</context>
<context>
    <name>FieldList</name>
    <message numerus="yes">
        <source>%n day(s)</source>
        <translation>
            <numerusform>%n day</numerusform>
            <numerusform>%n days</numerusform>
        </translation>
    </message>
</context>
<context>
    <name>HistoryPage</name>
    <message numerus="yes">
        <source>Shaded: time on battery (%n outage(s) in this period).</source>
        <translation>
            <numerusform>Shaded: time on battery (%n outage in this period).</numerusform>
            <numerusform>Shaded: time on battery (%n outages in this period).</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>These %n day(s): {reported} kWh reported by the UPS, {estimated} kWh estimated.</source>
        <translation>
            <numerusform>These %n day: {reported} kWh reported by the UPS, {estimated} kWh estimated.</numerusform>
            <numerusform>These %n days: {reported} kWh reported by the UPS, {estimated} kWh estimated.</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>These %n day(s): {reported} kWh, reported by the UPS.</source>
        <translation>
            <numerusform>These %n day: {reported} kWh, reported by the UPS.</numerusform>
            <numerusform>These %n days: {reported} kWh, reported by the UPS.</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>These %n day(s): {estimated} kWh, estimated from the load.</source>
        <translation>
            <numerusform>These %n day: {estimated} kWh, estimated from the load.</numerusform>
            <numerusform>These %n days: {estimated} kWh, estimated from the load.</numerusform>
        </translation>
    </message>
</context>
<context>
    <name>PrivacyPanel</name>
    <message numerus="yes">
        <source>%n upload(s) waiting to be sent.</source>
        <translation>
            <numerusform>%n upload waiting to be sent.</numerusform>
            <numerusform>%n uploads waiting to be sent.</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>{said} %n waiting upload(s) deleted; the cloud is asked to delete what it received.</source>
        <translation>
            <numerusform>{said} %n waiting upload deleted; the cloud is asked to delete what it received.</numerusform>
            <numerusform>{said} %n waiting uploads deleted; the cloud is asked to delete what it received.</numerusform>
        </translation>
    </message>
</context>
<context>
    <name>SettingsPage</name>
    <message numerus="yes">
        <source>Found %n UPS(es).</source>
        <translation>
            <numerusform>Found %n UPS.</numerusform>
            <numerusform>Found %n UPSes.</numerusform>
        </translation>
    </message>
</context>
</TS>
