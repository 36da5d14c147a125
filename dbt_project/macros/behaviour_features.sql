{#- The behaviour features of the company's event types (var event_types), in the order and with the names of
    churn_platform/profile.py::behaviour_features (the fixed naming contract). Each is a dict:
      name        the column;
      kind        count_30d | count_prev_30d | change_pct | days_since_last | per_active_day | active_days |
                  tenure_scaled;
      base        the window sums it is built from (`events`, `<type>` or `<type>_<measure>`);
      event_type  the type (none: all events);
      is_measure  summed measure (seconds or value) rather than a count.
    A misspelt feature or measure in the vars is a compile error naming it; so are two features of one name. -#}
{% macro behaviour_feature_specs(event_types=none) %}
    {%- set event_types = var('event_types') if event_types is none else event_types -%}
    {%- set known_features = ['count', 'change', 'recency', 'per_active_day'] -%}
    {%- set out = [] -%}
    {%- set totals = [
        ('events_30d', 'count_30d'), ('events_prev_30d', 'count_prev_30d'), ('events_change_pct', 'change_pct'),
        ('active_days_30d', 'active_days'), ('days_since_last_event', 'days_since_last'),
        ('events_30d_tenure_scaled', 'tenure_scaled')] -%}
    {%- for name, kind in totals -%}
        {%- do out.append({'name': name, 'kind': kind, 'base': 'events', 'event_type': none, 'is_measure': false}) -%}
    {%- endfor -%}
    {%- for e in event_types -%}
        {%- set t = e['name'] -%}
        {%- set m = event_measure(e) -%}
        {%- set features = e.get('features') or known_features -%}
        {%- for f in features if f not in known_features -%}
            {{ exceptions.raise_compiler_error("var event_types: event type " ~ t ~ " has unknown feature " ~ f
                ~ "; known: " ~ known_features | join(', ')) }}
        {%- endfor -%}
        {%- set bases = [(t, false)] + ([(t ~ '_' ~ m, true)] if m else []) -%}
        {%- if 'count' in features -%}
            {%- for base, is_measure in bases -%}
                {%- do out.append({'name': base ~ '_30d', 'kind': 'count_30d', 'base': base, 'event_type': t, 'is_measure': is_measure}) -%}
                {%- do out.append({'name': base ~ '_prev_30d', 'kind': 'count_prev_30d', 'base': base, 'event_type': t, 'is_measure': is_measure}) -%}
            {%- endfor -%}
        {%- endif -%}
        {%- if 'change' in features -%}
            {%- for base, is_measure in bases -%}
                {%- do out.append({'name': base ~ '_change_pct', 'kind': 'change_pct', 'base': base, 'event_type': t, 'is_measure': is_measure}) -%}
            {%- endfor -%}
        {%- endif -%}
        {%- if 'recency' in features -%}
            {%- do out.append({'name': 'days_since_last_' ~ t, 'kind': 'days_since_last', 'base': t, 'event_type': t, 'is_measure': false}) -%}
        {%- endif -%}
        {%- if 'per_active_day' in features -%}
            {%- for base, is_measure in bases -%}
                {%- do out.append({'name': base ~ '_per_active_day', 'kind': 'per_active_day', 'base': base, 'event_type': t, 'is_measure': is_measure}) -%}
            {%- endfor -%}
        {%- endif -%}
    {%- endfor -%}
    {%- set names = out | map(attribute='name') | list -%}
    {%- for name in names if names.count(name) > 1 -%}
        {{ exceptions.raise_compiler_error("var event_types: two behaviour features are both called " ~ name) }}
    {%- endfor -%}
    {{ return(out) }}
{% endmacro %}


{#- The name of an event type's summed measure (seconds or value), or none; anything else is an error. -#}
{% macro event_measure(event_type) %}
    {%- set measure = event_type.get('measure') -%}
    {%- if measure not in [none, 'seconds', 'value'] -%}
        {{ exceptions.raise_compiler_error("var event_types: event type " ~ event_type['name']
            ~ " has unknown measure " ~ measure ~ "; known: seconds (duration_seconds), value (value)") }}
    {%- endif -%}
    {{ return(measure) }}
{% endmacro %}


{#- The raw column an event type's measure is summed from. -#}
{% macro event_measure_column(measure) %}
    {{ return({'seconds': 'duration_seconds', 'value': 'value'}[measure]) }}
{% endmacro %}
