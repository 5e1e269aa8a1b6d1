package io.flinkllm.model;

import io.flinkllm.config.LlmOptions;
import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.JsonNode;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.node.ArrayNode;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.node.ObjectNode;
import org.apache.flink.table.api.ValidationException;
import org.apache.flink.table.types.logical.ArrayType;
import org.apache.flink.table.types.logical.CharType;
import org.apache.flink.table.types.logical.DecimalType;
import org.apache.flink.table.types.logical.LogicalType;
import org.apache.flink.table.types.logical.RowType;
import org.apache.flink.table.types.logical.VarCharType;

/**
 * The JSON Schema of a model's answer, from its OUTPUT columns: each column's type says what a
 * value may be, {@code output.<column>.<keyword>} options narrow it, a column's COMMENT is its
 * description. Decided at planning; every column is required (the model answers all of them).
 *
 * <p>Types: CHAR(n)/VARCHAR(n)/STRING → string ({@code maxLength} n); BOOLEAN; TINYINT, SMALLINT,
 * INT → integer within the type's range, BIGINT → integer; FLOAT/DOUBLE → number; DECIMAL(p, s)
 * → number below 10^(p-s) in magnitude (rounded to s places when converted); DATE → string of
 * format date; TIMESTAMP / TIMESTAMP_LTZ → string of format date-time; ARRAY&lt;T&gt; → array;
 * ROW&lt;…&gt; → object. Anything else has no JSON counterpart and is refused, naming the column.
 */
final class OutputSchema {
    static final ObjectMapper JSON = new ObjectMapper();

    /** The keywords of {@code output.<column>.<keyword>}, with what they apply to. */
    enum Keyword {
        ENUM("enum", "string"),
        DESCRIPTION("description", "any"),
        MIN_LENGTH("min-length", "string"),
        PATTERN("pattern", "string"),
        FORMAT("format", "string"),
        MINIMUM("minimum", "numeric"),
        MAXIMUM("maximum", "numeric"),
        MIN_ITEMS("min-items", "array"),
        MAX_ITEMS("max-items", "array");

        final String key;
        final String appliesTo;

        Keyword(String key, String appliesTo) {
            this.key = key;
            this.appliesTo = appliesTo;
        }

        static Keyword of(String key) {
            for (Keyword k : values()) {
                if (k.key.equals(key)) {
                    return k;
                }
            }
            return null;
        }

        static String known() {
            return Arrays.stream(values()).map(k -> k.key).reduce((a, b) -> a + ", " + b).orElse("");
        }
    }

    static final List<String> FORMATS = Arrays.asList("date", "date-time", "uuid", "email");

    /** One OUTPUT column: its name, type and COMMENT (may be null). */
    static final class Column {
        final String name;
        final LogicalType type;
        final String comment;

        Column(String name, LogicalType type, String comment) {
            this.name = name;
            this.type = type;
            this.comment = comment;
        }
    }

    /** Keyword values by column path ("category", "address.city"); every one must be used. */
    private final Map<String, Map<Keyword, String>> keywords = new TreeMap<>();

    private OutputSchema(Map<String, String> options) {
        for (Map.Entry<String, String> e : options.entrySet()) {
            if (!e.getKey().startsWith(LlmOptions.OUTPUT_PREFIX)) {
                continue;
            }
            String rest = e.getKey().substring(LlmOptions.OUTPUT_PREFIX.length());
            int dot = rest.lastIndexOf('.');
            Keyword keyword = dot > 0 ? Keyword.of(rest.substring(dot + 1)) : null;
            if (keyword == null) {
                throw new ValidationException("option '" + e.getKey() + "': expected output.<column>.<keyword> with keyword one of " + Keyword.known());
            }
            keywords.computeIfAbsent(rest.substring(0, dot), c -> new LinkedHashMap<>()).put(keyword, e.getValue());
        }
    }

    /** Whether any {@code output.*} option is given. */
    static boolean anyKeywords(Map<String, String> options) {
        return options.keySet().stream().anyMatch(k -> k.startsWith(LlmOptions.OUTPUT_PREFIX));
    }

    /** The answer's schema for these columns and the {@code output.*} entries of {@code options}. */
    static ObjectNode derive(List<Column> columns, Map<String, String> options) {
        OutputSchema schema = new OutputSchema(options);
        ObjectNode root = schema.object(columns, "");
        if (!schema.keywords.isEmpty()) {
            String path = schema.keywords.keySet().iterator().next();
            throw new ValidationException("option 'output." + path + "." + schema.keywords.get(path).keySet().iterator().next().key
                    + "': there is no OUTPUT column or ROW field '" + path + "'");
        }
        return root;
    }

    private ObjectNode object(List<Column> columns, String prefix) {
        ObjectNode node = JSON.createObjectNode().put("type", "object");
        ObjectNode properties = node.putObject("properties");
        ArrayNode required = JSON.createArrayNode();
        for (Column c : columns) {
            String path = prefix + c.name;
            Map<Keyword, String> given = keywords.remove(path);
            properties.set(c.name, value(c.type, path, given == null ? new LinkedHashMap<>() : given, c.comment));
            required.add(c.name);
        }
        node.set("required", required);
        node.put("additionalProperties", false);
        return node;
    }

    /** The schema of one value of {@code type} at {@code path}, with its keywords (consumed here). */
    private ObjectNode value(LogicalType type, String path, Map<Keyword, String> given, String comment) {
        ObjectNode node = JSON.createObjectNode();
        String description = given.containsKey(Keyword.DESCRIPTION) ? given.remove(Keyword.DESCRIPTION) : comment;
        if (description != null && !description.trim().isEmpty()) {
            node.put("description", description.trim());
        }
        switch (type.getTypeRoot()) {
            case ARRAY:
                node.put("type", "array");
                setCount(node, "minItems", given.remove(Keyword.MIN_ITEMS), path, Keyword.MIN_ITEMS);
                setCount(node, "maxItems", given.remove(Keyword.MAX_ITEMS), path, Keyword.MAX_ITEMS);
                checkOrder(node, "minItems", "maxItems", path);
                // The remaining keywords (enum, pattern, ...) constrain the elements.
                node.set("items", value(((ArrayType) type).getElementType(), path, given, null));
                return node;
            case ROW:
                List<Column> fields = new ArrayList<>();
                for (RowType.RowField f : ((RowType) type).getFields()) {
                    fields.add(new Column(f.getName(), f.getType(), f.getDescription().orElse(null)));
                }
                ObjectNode object = object(fields, path + ".");
                if (node.has("description")) {
                    object.set("description", node.get("description"));
                }
                refuseLeftover(given, path, type);
                return object;
            default:
                scalar(node, type, path, given);
                refuseLeftover(given, path, type);
                return node;
        }
    }

    private void scalar(ObjectNode node, LogicalType type, String path, Map<Keyword, String> given) {
        switch (type.getTypeRoot()) {
            case CHAR:
            case VARCHAR:
                node.put("type", "string");
                int length = type instanceof CharType ? ((CharType) type).getLength() : ((VarCharType) type).getLength();
                if (length < VarCharType.MAX_LENGTH) {
                    node.put("maxLength", length);
                }
                stringKeywords(node, type, path, given);
                return;
            case BOOLEAN:
                node.put("type", "boolean");
                return;
            case TINYINT:
                integer(node, type, path, given, (int) Byte.MIN_VALUE, (int) Byte.MAX_VALUE);
                return;
            case SMALLINT:
                integer(node, type, path, given, (int) Short.MIN_VALUE, (int) Short.MAX_VALUE);
                return;
            case INTEGER:
                integer(node, type, path, given, Integer.MIN_VALUE, Integer.MAX_VALUE);
                return;
            case BIGINT:
                // The engine writes at most 15 integer digits: every value fits a BIGINT.
                integer(node, type, path, given, null, null);
                return;
            case FLOAT:
            case DOUBLE:
                number(node, type, path, given, null);
                return;
            case DECIMAL:
                DecimalType decimal = (DecimalType) type;
                BigDecimal step = BigDecimal.ONE.movePointLeft(decimal.getScale());
                number(node, type, path, given, BigDecimal.ONE.movePointRight(decimal.getPrecision() - decimal.getScale()).subtract(step));
                return;
            case DATE:
                node.put("type", "string").put("format", "date");
                return;
            case TIMESTAMP_WITHOUT_TIME_ZONE:
            case TIMESTAMP_WITH_LOCAL_TIME_ZONE:
                node.put("type", "string").put("format", "date-time");
                return;
            default:
                throw new ValidationException("OUTPUT column '" + path + "' has type " + type + ", which has no JSON counterpart (use STRING, "
                        + "BOOLEAN, an integer or floating type, DECIMAL, DATE, TIMESTAMP, ARRAY or ROW)");
        }
    }

    private void stringKeywords(ObjectNode node, LogicalType type, String path, Map<Keyword, String> given) {
        String values = given.remove(Keyword.ENUM);
        if (values != null) {
            ArrayNode list = node.putArray("enum");
            for (String v : values.split(",")) {
                String value = v.trim();
                if (value.isEmpty()) {
                    throw keywordError(path, Keyword.ENUM, "'" + values + "' has an empty value");
                }
                if (node.has("maxLength") && value.length() > node.get("maxLength").asInt()) {
                    throw keywordError(path, Keyword.ENUM, "'" + value + "' is longer than " + type + " allows");
                }
                list.add(value);
            }
            node.remove("maxLength");
        }
        String minLength = given.remove(Keyword.MIN_LENGTH);
        if (minLength != null) {
            setCount(node, "minLength", minLength, path, Keyword.MIN_LENGTH);
            checkOrder(node, "minLength", "maxLength", path);
        }
        String pattern = given.remove(Keyword.PATTERN);
        if (pattern != null) {
            node.put("pattern", pattern);
        }
        String format = given.remove(Keyword.FORMAT);
        if (format != null) {
            if (!FORMATS.contains(format)) {
                throw keywordError(path, Keyword.FORMAT, "'" + format + "' is not one of " + FORMATS);
            }
            node.put("format", format);
        }
    }

    private void integer(ObjectNode node, LogicalType type, String path, Map<Keyword, String> given, Integer min, Integer max) {
        node.put("type", "integer");
        BigDecimal low = bound(given.remove(Keyword.MINIMUM), path, Keyword.MINIMUM, type, true);
        BigDecimal high = bound(given.remove(Keyword.MAXIMUM), path, Keyword.MAXIMUM, type, true);
        if (min != null) {
            low = inRange(low, path, Keyword.MINIMUM, type, min, max);
            high = inRange(high, path, Keyword.MAXIMUM, type, min, max);
            low = low == null ? BigDecimal.valueOf(min) : low;
            high = high == null ? BigDecimal.valueOf(max) : high;
        }
        setBounds(node, low, high, path, true);
    }

    /** A number; {@code limit} (if not null) bounds its magnitude (DECIMAL). */
    private void number(ObjectNode node, LogicalType type, String path, Map<Keyword, String> given, BigDecimal limit) {
        node.put("type", "number");
        BigDecimal low = bound(given.remove(Keyword.MINIMUM), path, Keyword.MINIMUM, type, false);
        BigDecimal high = bound(given.remove(Keyword.MAXIMUM), path, Keyword.MAXIMUM, type, false);
        if (limit != null) {
            for (BigDecimal b : new BigDecimal[] {low, high}) {
                if (b != null && b.abs().compareTo(limit) > 0) {
                    throw keywordError(path, b == low ? Keyword.MINIMUM : Keyword.MAXIMUM, b.toPlainString() + " does not fit " + type);
                }
            }
            low = low == null ? limit.negate() : low;
            high = high == null ? limit : high;
        }
        setBounds(node, low, high, path, false);
    }

    private static BigDecimal bound(String text, String path, Keyword keyword, LogicalType type, boolean whole) {
        if (text == null) {
            return null;
        }
        try {
            BigDecimal value = new BigDecimal(text.trim());
            if (whole && value.stripTrailingZeros().scale() > 0) {
                throw keywordError(path, keyword, "'" + text + "' is not a whole number, and " + type + " holds only those");
            }
            return value;
        } catch (NumberFormatException e) {
            throw keywordError(path, keyword, "'" + text + "' is not a number");
        }
    }

    private static BigDecimal inRange(BigDecimal value, String path, Keyword keyword, LogicalType type, int min, int max) {
        if (value != null && (value.compareTo(BigDecimal.valueOf(min)) < 0 || value.compareTo(BigDecimal.valueOf(max)) > 0)) {
            throw keywordError(path, keyword, value.toPlainString() + " is outside the range of " + type + " [" + min + ", " + max + "]");
        }
        return value;
    }

    private static void setBounds(ObjectNode node, BigDecimal low, BigDecimal high, String path, boolean whole) {
        if (low != null && high != null && low.compareTo(high) > 0) {
            throw new ValidationException("OUTPUT column '" + path + "': minimum " + low.toPlainString() + " is above maximum " + high.toPlainString());
        }
        if (low != null) {
            node.set("minimum", whole ? (JsonNode) JSON.getNodeFactory().numberNode(low.toBigInteger()) : JSON.getNodeFactory().numberNode(low));
        }
        if (high != null) {
            node.set("maximum", whole ? (JsonNode) JSON.getNodeFactory().numberNode(high.toBigInteger()) : JSON.getNodeFactory().numberNode(high));
        }
    }

    private static void setCount(ObjectNode node, String field, String text, String path, Keyword keyword) {
        if (text == null) {
            return;
        }
        try {
            int n = Integer.parseInt(text.trim());
            if (n < 0) {
                throw new NumberFormatException();
            }
            node.put(field, n);
        } catch (NumberFormatException e) {
            throw keywordError(path, keyword, "'" + text + "' is not a whole number >= 0");
        }
    }

    private static void checkOrder(ObjectNode node, String low, String high, String path) {
        if (node.has(low) && node.has(high) && node.get(low).asInt() > node.get(high).asInt()) {
            throw new ValidationException("OUTPUT column '" + path + "': " + low + " " + node.get(low).asInt() + " is above " + high + " "
                    + node.get(high).asInt());
        }
    }

    /** Keywords left after a value took its own: they do not apply to its type. */
    private static void refuseLeftover(Map<Keyword, String> given, String path, LogicalType type) {
        if (!given.isEmpty()) {
            Keyword k = given.keySet().iterator().next();
            throw keywordError(path, k, "applies to " + k.appliesTo + " columns, and " + path + " is " + type);
        }
    }

    private static ValidationException keywordError(String path, Keyword keyword, String reason) {
        return new ValidationException("option 'output." + path + "." + keyword.key + "': " + reason);
    }
}
